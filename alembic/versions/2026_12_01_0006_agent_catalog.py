"""Agent catalogs: what each agent advertises, and the experiment version each run loaded.

Revision ID: 0006_agent_catalog
Revises: 0005_datasets
Create Date: 2026-12-01 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_agent_catalog"
down_revision: str | None = "0005_datasets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create agent_catalog and agent_experiment; add run.experiment_version (null before)."""
    op.create_table(
        "agent_catalog",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("advertised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agent.id"],
            name=op.f("fk_agent_catalog_agent_id_agent"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agent_catalog")),
    )
    op.create_table(
        "agent_experiment",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("params_schema", sa.JSON(), nullable=False),
        sa.Column("defaults", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agent_catalog.agent_id"],
            name=op.f("fk_agent_experiment_agent_id_agent_catalog"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", "name", name=op.f("pk_agent_experiment")),
    )
    op.create_index(
        "ix_agent_experiment_name_version", "agent_experiment", ["name", "version"], unique=False
    )
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("experiment_version", sa.String(length=40), nullable=True))


def downgrade() -> None:
    """Drop the agent catalogs and run.experiment_version."""
    with op.batch_alter_table("run") as batch:
        batch.drop_column("experiment_version")
    op.drop_index("ix_agent_experiment_name_version", table_name="agent_experiment")
    op.drop_table("agent_experiment")
    op.drop_table("agent_catalog")

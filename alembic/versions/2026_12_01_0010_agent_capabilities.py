"""Agent capabilities (CPUs, GPUs, labels) and job requirements (GPUs, labels).

Revision ID: 0010_agent_capabilities
Revises: 0009_run_warnings
Create Date: 2026-12-01 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_agent_capabilities"
down_revision: str | None = "0009_run_warnings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add agent capabilities and job requirements; earlier agents and jobs have none."""
    with op.batch_alter_table("agent") as batch:
        batch.add_column(sa.Column("cpus", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("gpus", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch.add_column(
            sa.Column("gpu_count", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(
            sa.Column("labels", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table("job") as batch:
        batch.add_column(sa.Column("requires", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("required_gpus", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    op.create_table(
        "job_label",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_job_label_job_id_job"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "label", name=op.f("pk_job_label")),
    )


def downgrade() -> None:
    """Drop the capabilities and requirements."""
    op.drop_table("job_label")
    with op.batch_alter_table("job") as batch:
        batch.drop_column("required_gpus")
        batch.drop_column("requires")
    with op.batch_alter_table("agent") as batch:
        batch.drop_column("labels")
        batch.drop_column("gpu_count")
        batch.drop_column("gpus")
        batch.drop_column("cpus")

"""Agents bound to the credential that registered them; attempts keep who wrote them.

Revision ID: 0015_agent_provenance
Revises: 0014_signin_sessions
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_agent_provenance"
down_revision: str | None = "0014_signin_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the credential columns; agents and attempts from before have none (null)."""
    # token_id is a plain integer, not a foreign key: provenance must outlive the token row.
    with op.batch_alter_table("agent") as batch:
        batch.add_column(sa.Column("credential", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("token_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("run_attempt") as batch:
        batch.add_column(sa.Column("agent_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("credential", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("token_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop the credential and provenance columns."""
    with op.batch_alter_table("run_attempt") as batch:
        batch.drop_column("token_id")
        batch.drop_column("credential")
        batch.drop_column("agent_name")
    with op.batch_alter_table("agent") as batch:
        batch.drop_column("token_id")
        batch.drop_column("credential")

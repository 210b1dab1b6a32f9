"""Audit jobs: job kind and audit spec; per-run variant, profile and seconds per epoch.

Revision ID: 0002_audit_jobs
Revises: 0001_initial
Create Date: 2026-11-26 21:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_audit_jobs"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the columns; existing jobs are standard jobs."""
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="standard", nullable=False)
        )
        batch_op.add_column(sa.Column("audit", sa.JSON(), nullable=True))
        batch_op.create_check_constraint("kind_allowed", "kind IN ('standard', 'audit')")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("variant", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("profile", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("seconds_per_epoch", sa.Float(), nullable=True))


def downgrade() -> None:
    """Drop the columns."""
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("seconds_per_epoch")
        batch_op.drop_column("profile")
        batch_op.drop_column("variant")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_constraint("kind_allowed", type_="check")
        batch_op.drop_column("audit")
        batch_op.drop_column("kind")

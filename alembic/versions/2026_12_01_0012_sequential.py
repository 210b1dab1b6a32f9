"""Sequential seed plans: the job's stopping rule and its rounds.

Revision ID: 0012_sequential
Revises: 0011_decompose
Create Date: 2026-12-01 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_sequential"
down_revision: str | None = "0011_decompose"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add job.sequential (null: a fixed seed plan, as every job before this one)."""
    with op.batch_alter_table("job") as batch:
        batch.add_column(sa.Column("sequential", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop job.sequential."""
    with op.batch_alter_table("job") as batch:
        batch.drop_column("sequential")

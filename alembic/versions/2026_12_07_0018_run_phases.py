"""Where a run's time went: run.phases, as the run process measured it.

Revision ID: 0018_run_phases
Revises: 0017_bounded_metrics
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_run_phases"
down_revision: str | None = "0017_bounded_metrics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add run.phases ({setup, build, training} seconds); null for runs before it."""
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("phases", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop the column; run pages fall back to the total time alone."""
    with op.batch_alter_table("run") as batch:
        batch.drop_column("phases")

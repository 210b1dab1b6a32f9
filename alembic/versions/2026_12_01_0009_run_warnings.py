"""Run warnings (what the run process noticed) and validation predictions (seed churn).

Revision ID: 0009_run_warnings
Revises: 0007_job_verdict
Create Date: 2026-12-01 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_run_warnings"
down_revision: str | None = "0007_job_verdict"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add run.warnings and run.predictions (null for runs finished before: none reported)."""
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("warnings", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("predictions", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop run.predictions and run.warnings."""
    with op.batch_alter_table("run") as batch:
        batch.drop_column("predictions")
        batch.drop_column("warnings")

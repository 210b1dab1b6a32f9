"""Run curves: each finished run's metric series packed as int64/float64 blobs.

Revision ID: 0004_run_curves
Revises: 0003_run_traces
Create Date: 2026-11-27 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_run_curves"
down_revision: str | None = "0003_run_traces"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create run_curve; runs finished before this revision are read from metric_point."""
    op.create_table(
        "run_curve",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("steps", sa.LargeBinary(), nullable=False),
        sa.Column("values", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], name=op.f("fk_run_curve_run_id_run"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "key", name=op.f("pk_run_curve")),
    )


def downgrade() -> None:
    """Drop run_curve."""
    op.drop_table("run_curve")

"""Run traces: per-layer weight checksums per epoch and, when traced, per optimizer step.

Revision ID: 0003_run_traces
Revises: 0002_audit_jobs
Create Date: 2026-11-27 02:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_run_traces"
down_revision: str | None = "0002_audit_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create run_trace; runs finished before this revision simply have no trace."""
    op.create_table(
        "run_trace",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("layers", sa.JSON(), nullable=False),
        sa.Column("initial", sa.JSON(), nullable=False),
        sa.Column("epochs", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=True),
        sa.Column("steps_truncated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], name=op.f("fk_run_trace_run_id_run"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_trace")),
    )


def downgrade() -> None:
    """Drop run_trace."""
    op.drop_table("run_trace")

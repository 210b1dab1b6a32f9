"""Metrics an experiment declares bounded in [0, 1]: on its advertisements and its stored row.

Revision ID: 0017_bounded_metrics
Revises: 0016_required_cpus
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_bounded_metrics"
down_revision: str | None = "0016_required_cpus"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add agent_experiment.bounded_metrics and experiment.bounded_metrics; null declares none."""
    with op.batch_alter_table("agent_experiment") as batch:
        batch.add_column(sa.Column("bounded_metrics", sa.JSON(), nullable=True))
    with op.batch_alter_table("experiment") as batch:
        batch.add_column(sa.Column("bounded_metrics", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop the columns; declared metrics fall back to being bounded by name only."""
    with op.batch_alter_table("experiment") as batch:
        batch.drop_column("bounded_metrics")
    with op.batch_alter_table("agent_experiment") as batch:
        batch.drop_column("bounded_metrics")

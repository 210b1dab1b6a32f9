"""Sweep jobs: the job kind, the race's state, each run's configuration and parameters.

Revision ID: 0013_sweep
Revises: 0012_sequential
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_sweep"
down_revision: str | None = "0012_sequential"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Allow kind 'sweep'; add job.sweep, run.config and run.params (null for other kinds)."""
    with op.batch_alter_table("job") as batch:
        batch.drop_constraint("kind_allowed", type_="check")
        batch.create_check_constraint(
            "kind_allowed", "kind IN ('standard', 'audit', 'decompose', 'sweep')"
        )
        batch.add_column(sa.Column("sweep", sa.JSON(), nullable=True))
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("config", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("params", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop the columns; sweep jobs (and their runs) go, the old constraint returns."""
    with op.batch_alter_table("run") as batch:
        batch.drop_column("params")
        batch.drop_column("config")
    op.execute("DELETE FROM job WHERE kind = 'sweep'")
    with op.batch_alter_table("job") as batch:
        batch.drop_column("sweep")
        batch.drop_constraint("kind_allowed", type_="check")
        batch.create_check_constraint(
            "kind_allowed", "kind IN ('standard', 'audit', 'decompose')"
        )

"""Decompose jobs: the job kind, per-run order and split seeds, advertised seed sources.

Revision ID: 0011_decompose
Revises: 0008_tokens
Create Date: 2026-12-01 07:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_decompose"
down_revision: str | None = "0008_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Allow kind 'decompose'; add run.order_seed, run.split_seed and the advertised sources."""
    with op.batch_alter_table("job") as batch:
        batch.drop_constraint("kind_allowed", type_="check")
        batch.create_check_constraint(
            "kind_allowed", "kind IN ('standard', 'audit', 'decompose')"
        )
    with op.batch_alter_table("run") as batch:
        # Null: the seed follows the run seed (every run before this revision).
        batch.add_column(sa.Column("order_seed", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("split_seed", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("agent_experiment") as batch:
        batch.add_column(sa.Column("seed_sources", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop the columns; decompose jobs (and their runs) go, the old constraint returns."""
    with op.batch_alter_table("agent_experiment") as batch:
        batch.drop_column("seed_sources")
    with op.batch_alter_table("run") as batch:
        batch.drop_column("split_seed")
        batch.drop_column("order_seed")
    op.execute("DELETE FROM job WHERE kind = 'decompose'")
    with op.batch_alter_table("job") as batch:
        batch.drop_constraint("kind_allowed", type_="check")
        batch.create_check_constraint("kind_allowed", "kind IN ('standard', 'audit')")

"""Job verdict: stored when a job reaches a terminal status, so the jobs list can filter on it.

Revision ID: 0007_job_verdict
Revises: 0006_agent_catalog
Create Date: 2026-12-01 04:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_job_verdict"
down_revision: str | None = "0006_agent_catalog"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add job.verdict; jobs that finished before this revision keep NULL (shown as unknown)."""
    with op.batch_alter_table("job") as batch:
        batch.add_column(sa.Column("verdict", sa.String(length=30), nullable=True))
        batch.create_index("ix_job_verdict", ["verdict"])


def downgrade() -> None:
    """Drop job.verdict."""
    with op.batch_alter_table("job") as batch:
        batch.drop_index("ix_job_verdict")
        batch.drop_column("verdict")

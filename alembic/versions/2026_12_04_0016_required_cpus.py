"""Job requirement of CPUs per run (requires.cpus), as a column the claim query compares.

Revision ID: 0016_required_cpus
Revises: 0015_agent_provenance
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_required_cpus"
down_revision: str | None = "0015_agent_provenance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add job.required_cpus; earlier jobs need one CPU per run, as they always did."""
    with op.batch_alter_table("job") as batch:
        batch.add_column(
            sa.Column("required_cpus", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("job") as batch:
        batch.drop_column("required_cpus")

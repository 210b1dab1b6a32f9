"""Data sets: uploaded CSV files, stored content-addressed by sha256.

Revision ID: 0005_datasets
Revises: 0004_run_curves
Create Date: 2026-12-01 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_datasets"
down_revision: str | None = "0004_run_curves"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create dataset; the files live in <data dir>/datasets/<sha256>.csv."""
    op.create_table(
        "dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset")),
        sa.UniqueConstraint("name", name=op.f("uq_dataset_name")),
        sa.UniqueConstraint("sha256", name=op.f("uq_dataset_sha256")),
    )


def downgrade() -> None:
    """Drop dataset (the stored files stay on disk)."""
    op.drop_table("dataset")

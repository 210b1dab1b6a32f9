"""Browser sessions stored server-side, so sign-out ends them at once.

Revision ID: 0014_signin_sessions
Revises: 0013_sweep
Create Date: 2026-12-04 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_signin_sessions"
down_revision: str | None = "0013_sweep"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create signin_session (cookies signed before it name no session: they sign in again)."""
    op.create_table(
        "signin_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_token.id"],
            name=op.f("fk_signin_session_token_id_api_token"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signin_session")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_signin_session_key_hash")),
    )
    op.create_index(
        op.f("ix_signin_session_expires_at"), "signin_session", ["expires_at"], unique=False
    )
    op.create_index(
        op.f("ix_signin_session_token_id"), "signin_session", ["token_id"], unique=False
    )


def downgrade() -> None:
    """Drop signin_session."""
    op.drop_index(op.f("ix_signin_session_token_id"), table_name="signin_session")
    op.drop_index(op.f("ix_signin_session_expires_at"), table_name="signin_session")
    op.drop_table("signin_session")

"""ops console: server-side sessions, so logout, idle time and a new admin token end them

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from syndicator.store.models import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("who", sa.String(length=100), nullable=False),
        sa.Column("token_mac", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_last_seen_at"), "console_sessions", ["last_seen_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_console_sessions_last_seen_at"), table_name="console_sessions")
    op.drop_table("console_sessions")

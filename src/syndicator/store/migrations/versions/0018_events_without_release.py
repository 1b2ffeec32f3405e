"""events about no release: operator notices, digest runs (events.release_id nullable)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # PostgreSQL drops the constraint in place; SQLite copies the table once.
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("release_id", existing_type=sa.Integer(), nullable=True)
    # A digest run and a welcome mail stood for release 0, which no release is: they are
    # about none.
    op.execute("UPDATE events SET release_id = NULL WHERE source IN ('digest', 'subscription')")


def downgrade() -> None:
    op.execute("UPDATE events SET release_id = 0 WHERE release_id IS NULL")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("release_id", existing_type=sa.Integer(), nullable=False)

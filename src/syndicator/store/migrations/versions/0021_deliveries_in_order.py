"""deliveries of in-order channels name their release and their event's place in it

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HOLDERS = "status IN ('pending', 'in_progress') AND release_id IS NOT NULL"


def upgrade() -> None:
    # Nullable columns without a default: no table rewrite on either database. Rows
    # planned before this stay unordered (NULL), as they were.
    op.add_column("deliveries", sa.Column("release_id", sa.Integer(), nullable=True))
    op.add_column("deliveries", sa.Column("release_order", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_deliveries_in_order",
        "deliveries",
        ["channel", "target", "release_id", "release_order"],
        sqlite_where=sa.text(_HOLDERS),
        postgresql_where=sa.text(_HOLDERS),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_in_order", table_name="deliveries")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("release_order")
        batch_op.drop_column("release_id")

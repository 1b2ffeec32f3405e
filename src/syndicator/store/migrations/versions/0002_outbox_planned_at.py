"""outbox planned_at: lets the sweeper find fan-outs the broker lost

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import syndicator.store.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "planned_at", syndicator.store.models.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_index(
            "ix_outbox_unplanned",
            ["relayed_at"],
            unique=False,
            sqlite_where=sa.text("planned_at IS NULL"),
            postgresql_where=sa.text("planned_at IS NULL"),
        )
    # Rows relayed before this column existed were planned by the version that relayed
    # them; without this the sweeper would send the whole history again.
    op.execute("UPDATE outbox SET planned_at = relayed_at WHERE relayed_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_outbox_unplanned",
            sqlite_where=sa.text("planned_at IS NULL"),
            postgresql_where=sa.text("planned_at IS NULL"),
        )
        batch_op.drop_column("planned_at")

"""messages each newsletter sent, for its bounce and complaint rates; why a pause was made

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from syndicator.store.models import UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "newsletter_sends",
        sa.Column(
            "event_id",
            sa.String(40),
            sa.ForeignKey("events.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("first_sent_at", UTCDateTime(), nullable=False),
        sa.Column("last_sent_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_newsletter_sends_last_sent_at", "newsletter_sends", ["last_sent_at"])
    # Newsletters sent before this revision have no count: their rates start empty.
    op.add_column("channel_pauses", sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channel_pauses", schema=None) as batch_op:
        batch_op.drop_column("reason")
    op.drop_index("ix_newsletter_sends_last_sent_at", table_name="newsletter_sends")
    op.drop_table("newsletter_sends")

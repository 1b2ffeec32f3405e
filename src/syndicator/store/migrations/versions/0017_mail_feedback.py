"""bounces and complaints kept with their evidence; why a subscriber is suppressed; language

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from syndicator.store.models import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey("subscribers.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "delivery_id",
            sa.Integer(),
            sa.ForeignKey("deliveries.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("diagnostic", sa.Text(), nullable=True),
        sa.Column("answered_message_id", sa.String(300), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.String(300), nullable=True, unique=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_mail_feedback_subscriber", "mail_feedback", ["subscriber_id", "received_at"]
    )
    op.create_index("ix_mail_feedback_kind", "mail_feedback", ["kind", "received_at"])
    op.create_index("ix_mail_feedback_delivery", "mail_feedback", ["delivery_id"])
    # Plain ADD COLUMNs (nullable, or a constant default): no table rewrite on either engine.
    op.add_column("subscribers", sa.Column("suppressed_kind", sa.String(20), nullable=True))
    op.add_column("subscribers", sa.Column("suppressed_at", UTCDateTime(), nullable=True))
    op.add_column(
        "subscribers",
        sa.Column("language", sa.String(8), nullable=False, server_default="ko"),
    )
    # Suppressions from before this revision were all 5.1.x answers in the SMTP session.
    op.execute("UPDATE subscribers SET suppressed_kind = 'smtp' WHERE status = 'suppressed'")


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("language")
        batch_op.drop_column("suppressed_at")
        batch_op.drop_column("suppressed_kind")
    op.drop_index("ix_mail_feedback_delivery", table_name="mail_feedback")
    op.drop_index("ix_mail_feedback_kind", table_name="mail_feedback")
    op.drop_index("ix_mail_feedback_subscriber", table_name="mail_feedback")
    op.drop_table("mail_feedback")

"""subscribers and partners; attempts record status, response, endpoint and message id

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import syndicator.store.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("rate_limit_per_s", sa.Float(), nullable=True),
        sa.Column("max_in_flight", sa.Integer(), nullable=True),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("disabled_at", syndicator.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "failing_since", syndicator.store.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_at", syndicator.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", syndicator.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
    )
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("every_release", sa.Boolean(), nullable=False),
        sa.Column("consent", sa.String(length=20), nullable=False),
        sa.Column("created_at", syndicator.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", syndicator.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "confirmed_at", syndicator.store.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "unsubscribed_at", syndicator.store.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("suppressed_reason", sa.Text(), nullable=True),
        sa.Column("digest_marker", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribers")),
        sa.UniqueConstraint("email", name=op.f("uq_subscribers_email")),
    )
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.create_index("ix_subscribers_mailing", ["status", "mode", "id"], unique=False)

    op.create_table(
        "partner_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("created_at", syndicator.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", syndicator.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_secrets_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_secrets")),
    )
    with op.batch_alter_table("partner_secrets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_partner_secrets_partner_id"), ["partner_id"], unique=False
        )

    op.create_table(
        "subscriber_topics",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_topics_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "kind", "name", name=op.f("pk_subscriber_topics")),
    )
    with op.batch_alter_table("subscriber_topics", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscriber_topics_topic", ["kind", "name", "subscriber_id"], unique=False
        )

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trigger", sa.String(length=20), server_default="scheduled", nullable=False)
        )
        batch_op.create_index("ix_deliveries_target", ["channel", "target", "id"], unique=False)

    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "next_attempt_at", syndicator.store.models.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("status_code", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("response", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("endpoint", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("message_id", sa.String(length=300), nullable=True))

    op.create_table(
        "attempt_tallies",
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "outcome", "bucket", name=op.f("pk_attempt_tallies")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_fresh",
            ["channel", "created_at"],
            unique=False,
            sqlite_where=sa.text("status = 'pending' AND next_attempt_at IS NULL"),
            postgresql_where=sa.text("status = 'pending' AND next_attempt_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_fresh")
    op.drop_table("attempt_tallies")

    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_column("message_id")
        batch_op.drop_column("endpoint")
        batch_op.drop_column("response")
        batch_op.drop_column("status_code")
        batch_op.drop_column("next_attempt_at")

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_target")
        batch_op.drop_column("trigger")

    with op.batch_alter_table("subscriber_topics", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriber_topics_topic")

    op.drop_table("subscriber_topics")
    with op.batch_alter_table("partner_secrets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_secrets_partner_id"))

    op.drop_table("partner_secrets")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_index("ix_subscribers_mailing")

    op.drop_table("subscribers")
    op.drop_table("partners")

"""published_documents: rendered feed documents every web node serves

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import syndicator.store.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "published_documents",
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column(
            "last_modified",
            syndicator.store.models.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("path", name=op.f("pk_published_documents")),
    )
    with op.batch_alter_table("published_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_published_documents_version"), ["version"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("published_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_published_documents_version"))
    op.drop_table("published_documents")

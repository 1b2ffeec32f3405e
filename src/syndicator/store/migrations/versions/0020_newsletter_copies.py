"""the web copy of every newsletter and digest; welcome events are about no release

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from syndicator.store.models import UTCDateTime

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "newsletter_copies",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    # Welcome mails planned before 0018 made release_id nullable stood for release 0.
    op.execute("UPDATE events SET release_id = NULL WHERE source = 'subscription'")


def downgrade() -> None:
    op.drop_table("newsletter_copies")

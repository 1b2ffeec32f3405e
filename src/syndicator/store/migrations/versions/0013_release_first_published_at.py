"""releases keep their first published_at: entry ids never move when the date is corrected

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from syndicator.store.models import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_published_at", UTCDateTime(), nullable=True))
    # Readers hold the ids rendered so far, which took their year from the current
    # published_at: freezing that keeps every id a reader already has.
    op.execute("UPDATE releases SET first_published_at = published_at")
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.alter_column("first_published_at", existing_type=UTCDateTime(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_column("first_published_at")

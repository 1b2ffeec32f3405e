"""release search: Hangul-bigram full-text index (FTS5 on SQLite, tsvector+GIN on PostgreSQL)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28

The index's shape differs per database, so it is not in the models: migrations/env.py
leaves ``release_search*`` out of the comparison. Existing releases are indexed here, in
batches; intake keeps the index current from then on (store.search.index_release).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 500

releases = sa.table(
    "releases",
    sa.column("id", sa.Integer),
    sa.column("title", sa.Text),
    sa.column("subtitle", sa.Text),
    sa.column("body_html", sa.Text),
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # The terms are made in Python (store.search_terms): unicode61 only splits on spaces.
        op.execute(
            "CREATE VIRTUAL TABLE release_search USING fts5("
            "title, body, tokenize = 'unicode61 remove_diacritics 0')"
        )
    else:
        op.execute(
            "CREATE TABLE release_search ("
            " release_id INTEGER PRIMARY KEY REFERENCES releases (id) ON DELETE CASCADE,"
            " document tsvector NOT NULL)"
        )
        op.execute("CREATE INDEX ix_release_search_document ON release_search USING gin (document)")
    _index_existing(bind)


def _index_existing(bind: sa.Connection) -> None:
    from syndicator.store.search import index_release

    after = -(2**31)
    while True:
        rows = bind.execute(
            sa.select(releases).where(releases.c.id > after).order_by(releases.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            index_release(bind, row.id, row.title, row.subtitle, row.body_html)
        after = rows[-1].id


def downgrade() -> None:
    op.execute("DROP TABLE release_search")

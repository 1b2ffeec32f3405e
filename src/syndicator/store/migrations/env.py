"""Alembic environment: always online, against the URL the caller configured."""

from __future__ import annotations

from alembic import context

from syndicator.store.db import Database
from syndicator.store.models import Base

config = context.config
database = Database(config.get_main_option("sqlalchemy.url") or "")


def _modelled(name: str | None, type_: str, _parents: object) -> bool:
    """The search index (migration 0008) differs per database, so no model describes it;
    FTS5 adds shadow tables named after it."""
    return not (type_ == "table" and name is not None and name.startswith("release_search"))


try:
    with database.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=database.is_sqlite,
            compare_type=True,
            include_name=_modelled,
        )
        with context.begin_transaction():
            context.run_migrations()
finally:  # a refused migration (one missing the key it needs) leaves no connection
    database.dispose()

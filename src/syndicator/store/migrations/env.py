"""Alembic environment: always online, against the URL the caller configured."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from syndicator.store.db import Database
from syndicator.store.models import Base

config = context.config
database = Database(config.get_main_option("sqlalchemy.url") or "")


def _modelled(name: str | None, type_: str, _parents: object) -> bool:
    """The search index (migration 0008) differs per database, so no model describes it;
    FTS5 adds shadow tables named after it."""
    return not (type_ == "table" and name is not None and name.startswith("release_search"))


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """SQLite alters a table by copying it and dropping the original (Alembic's batch
    mode); with foreign keys on, that DROP deletes every child row through ON DELETE
    CASCADE. So they are off while migrations run, and checked once they are back on.
    Set on the driver's connection: a PRAGMA inside a transaction does nothing."""
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    if on:
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migrations left rows naming missing parents: {broken[:5]}")


try:
    with database.engine.connect() as connection:
        if database.is_sqlite:
            _sqlite_foreign_keys(connection, on=False)
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=database.is_sqlite,
            compare_type=True,
            include_name=_modelled,
        )
        with context.begin_transaction():
            context.run_migrations()
        if database.is_sqlite:
            _sqlite_foreign_keys(connection, on=True)
finally:  # a refused migration (one missing the key it needs) leaves no connection
    database.dispose()

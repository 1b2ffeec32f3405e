"""Alembic environment: always online, against the URL the caller configured."""

from __future__ import annotations

from alembic import context

from syndicator.store.db import Database
from syndicator.store.models import Base

config = context.config
database = Database(config.get_main_option("sqlalchemy.url") or "")

with database.engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=database.is_sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
database.dispose()

"""Run Alembic migrations from code, so `syndicator migrate` needs no alembic.ini."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from syndicator.store.db import Database, normalise_url

__all__ = ["SchemaState", "alembic_config", "head_revision", "schema_state", "upgrade"]


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # None: never migrated
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "syndicator.store:migrations")
    config.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    return config


def upgrade(
    database_url: str, revision: str = "head", encryption_keys: tuple[str, ...] | None = None
) -> None:
    """Migrate to ``revision``. A migration that seals stored secrets (0012) uses
    ``encryption_keys``; None: SYNDICATOR_ENCRYPTION_KEYS, read when it has rows to seal."""
    config = alembic_config(database_url)
    config.attributes["encryption_keys"] = encryption_keys
    command.upgrade(config, revision)


@functools.cache
def head_revision() -> str:
    """The code's newest revision: read from the migration scripts once per process, since
    /readyz asks on every probe."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None, "the migrations have no head"
    return head


def schema_state(db: Database) -> SchemaState:
    """The database's schema revision against the code's; raises if the database is away."""
    head = head_revision()
    # A read: on SQLite it must not queue behind a writer (readiness asks on every probe).
    with db.read_engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return SchemaState(current, head)

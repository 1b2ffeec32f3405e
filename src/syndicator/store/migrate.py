"""Run Alembic migrations from code, so `syndicator migrate` needs no alembic.ini."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from syndicator.store.db import normalise_url

__all__ = ["alembic_config", "upgrade"]


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "syndicator.store:migrations")
    config.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)

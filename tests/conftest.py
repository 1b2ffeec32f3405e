"""Shared fixtures: real Redis, SQLite and PostgreSQL, settings pointing at them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from syndicator.config import Settings, load_settings
from syndicator.events.signing import generate_secret
from syndicator.runtime.embedded_redis import EmbeddedRedis
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from tests.services import fresh_postgres_database, postgres_admin_url, redis_answers, with_db

_PG_URL, _PG_REASON = postgres_admin_url()


def pytest_report_header() -> list[str]:
    lines = [f"postgres: {_PG_URL or _PG_REASON}"]
    return lines


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SYNDICATOR_TEST_REDIS_URL, else localhost:6379 if it answers, else an embedded one."""
    configured = os.environ.get("SYNDICATOR_TEST_REDIS_URL")
    # "embedded" forces what a machine without Redis gets.
    if configured and configured != "embedded":
        yield configured
        return
    if configured != "embedded" and redis_answers("redis://localhost:6379/0"):
        yield "redis://localhost:6379"
        return
    directory = tmp_path_factory.mktemp("redis")
    server = EmbeddedRedis(directory, directory / "redis.sock")
    yield server.start()
    server.stop()


_next_db = iter(range(1, 16))


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """A flushed Redis database of its own for each test that needs one."""
    url = with_db(redis_server, next(_next_db, 15))
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'syndicator.db'}"
        return
    if _PG_URL is None:
        pytest.skip(_PG_REASON)
    with fresh_postgres_database(_PG_URL) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'syndicator.db'}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def cms_secret() -> str:
    return generate_secret()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, cms_secret: str) -> Settings:
    return load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(tmp_path / "var"),
            "SYNDICATOR_DATABASE_URL": database_url,
            "SYNDICATOR_BASE_URL": "https://press.example.kr",
            "SYNDICATOR_CMS_SECRET": cms_secret,
            "SYNDICATOR_ADMIN_TOKEN": "test-admin-token",
        }
    )

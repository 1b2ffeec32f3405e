"""Shared fixtures: real Redis, SQLite and PostgreSQL, settings pointing at them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from syndicator.config import Settings, load_settings
from syndicator.events.signing import generate_secret
from syndicator.runtime.embedded_redis import EmbeddedRedis
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from tests.sealing import ENCRYPTION_KEY
from tests.services import (
    claim_databases,
    fresh_postgres_database,
    postgres_admin_url,
    redis_answers,
    reset_database,
    with_db,
)

_PG_URL, _PG_REASON = postgres_admin_url()
# Every process a test starts seals and opens partner secrets with the same key.
os.environ["SYNDICATOR_ENCRYPTION_KEYS"] = ENCRYPTION_KEY


def pytest_report_header() -> list[str]:
    lines = [f"postgres: {_PG_URL or _PG_REASON}"]
    return lines


@dataclass(frozen=True)
class RedisServer:
    url: str
    databases: tuple[int, ...]  # the ones this run may flush


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """SYNDICATOR_TEST_REDIS_URL, else localhost:6379 if it answers, else an embedded one.

    On a shared Redis the suite uses only logical databases that were empty (or that an
    earlier run marked with OWNER_KEY), so a developer's own data is never flushed."""
    configured = os.environ.get("SYNDICATOR_TEST_REDIS_URL")
    # "embedded" forces what a machine without Redis gets.
    shared = configured if configured and configured != "embedded" else None
    if shared is None and configured != "embedded" and redis_answers("redis://localhost:6379/0"):
        shared = "redis://localhost:6379"
    if shared is not None:
        claimed = claim_databases(shared, RUN_ID)
        if claimed:
            yield RedisServer(shared, tuple(claimed))
            return
    directory = tmp_path_factory.mktemp("redis")
    server = EmbeddedRedis(directory, directory / "redis.sock")
    yield RedisServer(server.start(), tuple(range(1, 16)))
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """A flushed Redis database of its own for each test that needs one."""
    global _next_db
    _next_db = (_next_db + 1) % len(redis_server.databases)
    url = with_db(redis_server.url, redis_server.databases[_next_db])
    reset_database(url, RUN_ID)
    yield url
    reset_database(url, RUN_ID)


_next_db = -1
RUN_ID = f"syndicator-tests-{os.getpid()}"


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
            # Tests read the documents back from the export, as a front server would.
            "SYNDICATOR_FEEDS_EXPORT_DIR": str(tmp_path / "var" / "public" / "feeds"),
            "SYNDICATOR_DOCUMENT_CHECK_SECONDS": "0",
            "SYNDICATOR_DATABASE_URL": database_url,
            "SYNDICATOR_BASE_URL": "https://press.example.kr",
            "SYNDICATOR_CMS_SECRET": cms_secret,
            "SYNDICATOR_ADMIN_TOKEN": "test-admin-token",
            # Newest first, as in production: the second only verifies (a rotated-out key).
            "SYNDICATOR_TOKEN_KEYS": "test-token-key-new test-token-key-old",
            "SYNDICATOR_ENCRYPTION_KEYS": ENCRYPTION_KEY,
        }
    )

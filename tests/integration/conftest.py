"""Fixtures the integration modules share: the app over real HTTP, and the whole system."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syndicator.config import Settings
from syndicator.store.db import Database
from syndicator.web.app import create_app
from tests.conftest import MigrateToHead
from tests.live_server import serve
from tests.system import RunningSystem, system_env


@pytest.fixture
def app_settings(settings: Settings, redis_url: str, migrate_to_head: MigrateToHead) -> Settings:
    migrate_to_head(settings.database_url)
    return settings.with_(redis_url=redis_url)


@pytest.fixture
def client(app_settings: Settings) -> Iterator[httpx.Client]:
    """The app on a real uvicorn server in a thread."""
    with serve(create_app(app_settings)) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


@pytest.fixture
def store(app_settings: Settings) -> Iterator[Database]:
    with Database(app_settings.database_url) as database:
        yield database


@pytest.fixture
def system(
    tmp_path: Path, database_url: str, redis_url: str, cms_secret: str
) -> Iterator[RunningSystem]:
    """`syndicator run`: web, its workers and beat, as subprocesses."""
    running = RunningSystem(
        system_env(tmp_path, database_url, redis_url, cms_secret), tmp_path / "system.log"
    )
    try:
        yield running.start()
    finally:
        running.stop()

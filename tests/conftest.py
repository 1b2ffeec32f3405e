"""Shared fixtures: real Redis, SQLite and PostgreSQL, settings pointing at them.

`make test` runs the suite on pytest-xdist workers (docs/development.md): each worker has its
own embedded Redis, its own PostgreSQL databases and its own temporary directories."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from syndicator.config import Settings, load_settings
from syndicator.events.signing import generate_secret
from syndicator.runtime.embedded_redis import EmbeddedRedis
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from tests import system_slots
from tests.sealing import ENCRYPTION_KEY
from tests.services import (
    PostgresDatabases,
    claim_databases,
    postgres_admin_url,
    redis_answers,
    reset_database,
    with_db,
)

_PG_URL, _PG_REASON = postgres_admin_url()
# No per-example deadline: on workers sharing two cores it fails at random, a timed assert.
# The example database (.hypothesis/) is safe for workers to share.
hypothesis_settings.register_profile("suite", deadline=None, print_blob=True)
hypothesis_settings.load_profile("suite")
# "gw0", "gw1", … on an xdist worker; None in a plain pytest run.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
# Every process a test starts seals and opens partner secrets with the same key.
os.environ["SYNDICATOR_ENCRYPTION_KEYS"] = ENCRYPTION_KEY


def pytest_report_header() -> list[str]:
    lines = [f"postgres: {_PG_URL or _PG_REASON}"]
    return lines


_SHARED_SCOPES = ("class", "module", "package")


# A module whose tests start our own processes (tests/system_slots.py) names one of these.
_PROCESS_STARTERS = ("RunningSystem", "CeleryProcesses", "chaos_system", "web_node", "spawn(")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    _group_shared_fixtures(items)
    if XDIST_WORKER is not None:
        items[:] = _spread_process_modules(items)


def _spread_process_modules(items: list[pytest.Item]) -> list[pytest.Item]:
    """The modules that start processes spread evenly through the run, the others kept
    in order between them. Only two workers at a time may run such processes, so a run
    of them back to back (tests/chaos, then tests/integration) leaves the other two
    workers waiting for a slot instead of running the unit tests. Each module stays
    whole; every worker collects the same order, as xdist requires."""
    modules: dict[Path, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.path, []).append(item)
    starting = [path for path in modules if _starts_processes(path)]
    others = [path for path in modules if path not in set(starting)]
    if not starting:
        return items
    ordered: list[pytest.Item] = []
    step = len(others) / len(starting)
    for n, path in enumerate(starting):
        ordered += modules[path]
        for other in others[round(n * step) : round((n + 1) * step)]:
            ordered += modules[other]
    return ordered


def _starts_processes(path: Path) -> bool:
    try:
        source = path.read_text()
    except OSError:
        return False
    return any(name in source for name in _PROCESS_STARTERS)


def _group_shared_fixtures(items: list[pytest.Item]) -> None:
    """Tests sharing a module-scoped fixture (a live server, a whole system) run on one
    xdist worker, so it starts once (`--dist loadgroup`). An explicit xdist_group wins."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        shared = sorted(
            name
            for name, fixturedefs in info.name2fixturedefs.items()
            if any(fixturedef.scope in _SHARED_SCOPES for fixturedef in fixturedefs)
        )
        if not shared:
            continue
        # A parametrized shared fixture is set up once per value: one group for each.
        params = getattr(item, "callspec", None)
        values = [f"{n}={params.params[n]}" for n in shared if params and n in params.params]
        group = item.nodeid.split("::")[0] + (f"[{','.join(values)}]" if values else "")
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(autouse=True)
def _system_slot_per_test() -> Iterator[None]:
    """Gives back this worker's system slot once the test's processes are gone
    (tests/system_slots.py)."""
    yield
    system_slots.release_if_idle()


@pytest.fixture(autouse=True, scope="module")
def _system_slot_per_module() -> Iterator[None]:
    """... and after a module whose fixture kept a system running for all its tests."""
    yield
    system_slots.release_if_idle()


@dataclass(frozen=True)
class RedisServer:
    url: str
    databases: tuple[int, ...]  # the ones this run may flush


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """SYNDICATOR_TEST_REDIS_URL, else localhost:6379 if it answers, else an embedded one.
    An xdist worker starts an embedded one of its own unless SYNDICATOR_TEST_REDIS_URL says
    otherwise: 16 logical databases would not go round the workers of several suites.

    On a shared Redis the suite uses only logical databases that were empty (or that an
    earlier run marked with OWNER_KEY), so a developer's own data is never flushed."""
    configured = os.environ.get("SYNDICATOR_TEST_REDIS_URL")
    # "embedded" forces what a machine without Redis gets.
    shared = configured if configured and configured != "embedded" else None
    probe_local = configured is None and XDIST_WORKER is None
    if shared is None and probe_local and redis_answers("redis://localhost:6379/0"):
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


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    if _PG_URL is None:
        pytest.skip(_PG_REASON)
    databases = PostgresDatabases(_PG_URL, f"syndicator_test_{XDIST_WORKER or 'main'}")
    yield databases
    databases.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new database for each test: empty, or already migrated on PostgreSQL when the
    test's fixtures migrate it anyway (``migrate_to_head``), which is then only a check."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'syndicator.db'}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    with databases.fresh(migrated="migrate_to_head" in request.fixturenames) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'syndicator.db'}"


MigrateToHead = Callable[[str], None]


@pytest.fixture(scope="session")
def migrate_to_head(tmp_path_factory: pytest.TempPathFactory) -> MigrateToHead:
    """``upgrade(url)``, except that a SQLite file not made yet is copied from one this
    process migrated once: the migrations commit a dozen times, each a wait on the disk."""
    migrated: list[Path] = []

    def migrate(url: str) -> None:
        path = Path(url.removeprefix("sqlite:///"))
        if not url.startswith("sqlite:///") or path.exists():
            upgrade(url)
            return
        if not migrated:
            head = tmp_path_factory.mktemp("sqlite-head") / "syndicator.db"
            upgrade(f"sqlite:///{head}")
            migrated.append(head)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(migrated[0], path)

    return migrate


@pytest.fixture
def db(database_url: str, migrate_to_head: MigrateToHead) -> Iterator[Database]:
    migrate_to_head(database_url)
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

"""Finding the real services tests run against, or starting embedded ones."""

from __future__ import annotations

import itertools
import os
import random
import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

from syndicator.store.migrate import upgrade

DEFAULT_PG = "postgresql+psycopg://postgres@localhost:5432/test"


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


# A database the suite may flush carries this key; any other non-empty one is the developer's.
OWNER_KEY = "syndicator:tests:owner"


def claim_databases(url: str, run_id: str, candidates: range = range(1, 16)) -> list[int]:
    """The logical databases of a shared Redis the suite may use: empty ones, or ones an
    earlier run of the suite marked and that no running suite holds. Nothing else is ever
    flushed, and two suites running at once never share a database."""
    claimed = []
    for number in candidates:
        client = redis.Redis.from_url(with_db(url, number))
        try:
            if _claim(client, run_id):
                claimed.append(number)
        finally:
            client.close()
    return claimed


def _claim(client: redis.Redis, run_id: str) -> bool:
    with client.pipeline() as pipe:
        try:
            pipe.watch(OWNER_KEY)  # a suite claiming it at the same moment makes EXEC fail
            owner = pipe.get(OWNER_KEY)
            if owner is None and pipe.dbsize() != 0:
                return False  # someone's own data
            if owner is not None and owner.decode() != run_id and _running(owner.decode()):
                return False  # another suite, still running, holds it
            pipe.multi()
            pipe.set(OWNER_KEY, run_id)
            pipe.execute()
            return True
        except redis.WatchError:
            return False


def _running(owner: str) -> bool:
    """Whether the suite that marked a database (``syndicator-tests-<pid>``) still runs."""
    pid = owner.rpartition("-")[2]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reset_database(url: str, run_id: str) -> None:
    """Empty a claimed database and keep the mark that says it is the suite's."""
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
        client.set(OWNER_KEY, run_id)
    finally:
        client.close()


def with_db(url: str, number: int) -> str:
    """The same server, another logical database."""
    parts = urlsplit(url)
    if parts.scheme == "unix":  # urlunsplit would drop the empty host: unix:/path
        return f"unix://{parts.path}?db={number}"
    return urlunsplit(parts._replace(path=f"/{number}"))


def postgres_admin_url() -> tuple[str | None, str]:
    url = os.environ.get("SYNDICATOR_TEST_DATABASE_URL", DEFAULT_PG)
    try:
        with psycopg.connect(_libpq(url), connect_timeout=2):
            return url, ""
    except psycopg.Error as exc:
        return None, f"PostgreSQL not answering at {url}: {exc}".strip()


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """A new, empty database per test: isolation without cleaning up tables."""
    name = f"syndicator_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PostgresDatabases:
    """New databases for one test process (one xdist worker), empty or already migrated:
    the next of each kind is made in a thread while a test runs, and a finished one is
    dropped there too. Every test still gets a database of its own; it only stops waiting
    on CREATE and DROP DATABASE, which flush to disk, and on the migrations.

    A migrated one is a copy of a template this process migrated once
    (``CREATE DATABASE ... TEMPLATE``): the same schema ``syndicator migrate`` builds, made
    by the same migrations."""

    def __init__(self, admin_url: str, prefix: str) -> None:
        self._admin = _libpq(admin_url)
        self._base = admin_url.rpartition("/")[0]
        self._prefix = prefix
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="postgres-databases")
        self._next: dict[bool, Future[str]] = {}
        self._drops: list[Future[None]] = []
        self._template: str | None = None  # made in the thread, on the first migrated ask

    @contextmanager
    def fresh(self, migrated: bool = False) -> Iterator[str]:
        pending = self._next.pop(migrated, None)
        name = (pending or self._thread.submit(self._create, migrated)).result()
        self._next[migrated] = self._thread.submit(self._create, migrated)
        try:
            yield f"{self._base}/{name}"
        finally:
            self._drops.append(self._thread.submit(self._drop, name))

    def close(self) -> None:
        """Drop what is left and raise what a drop in the thread raised."""
        for pending in self._next.values():
            self._drops.append(self._thread.submit(self._drop, pending.result()))
        if self._template is not None:
            self._drops.append(self._thread.submit(self._drop, self._template))
        self._thread.shutdown(wait=True)
        for dropped in self._drops:
            dropped.result()

    def _create(self, migrated: bool) -> str:
        name = f"{self._prefix}_{uuid.uuid4().hex[:10]}"
        template = f' TEMPLATE "{self._migrated_template()}"' if migrated else ""
        with psycopg.connect(self._admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{template}')
        return name

    def _migrated_template(self) -> str:
        if self._template is None:
            name = f"{self._prefix}_head_{uuid.uuid4().hex[:6]}"
            with psycopg.connect(self._admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            # The migrations dispose of their engine: no connection is left open on the
            # template, which copying it would refuse ("being accessed by other users").
            upgrade(f"{self._base}/{name}")
            self._template = name
        return self._template

    def _drop(self, name: str) -> None:
        with psycopg.connect(self._admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Ports for the servers tests start, which bind them some time after this probe. They come
# from below Linux's ephemeral range (32768-60999), so no outgoing connection takes one in
# between, and from a block of their own for each xdist worker, so no other worker's server
# does either. A port still bound (or in TIME_WAIT) fails the probe and is skipped.
_PORT_BASE = 20_000
_PORTS_PER_WORKER = 1_400
_WORKER_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw8").removeprefix("gw")) % 9
_port_cursor = itertools.count(random.randrange(_PORTS_PER_WORKER))


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on, for a server about to be started."""
    start = _PORT_BASE + _WORKER_INDEX * _PORTS_PER_WORKER
    for _ in range(_PORTS_PER_WORKER):
        port = start + next(_port_cursor) % _PORTS_PER_WORKER
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}-{start + _PORTS_PER_WORKER - 1}")

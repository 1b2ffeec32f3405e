"""Engines and sessions. SQLite gets WAL and a busy timeout so the web app and the
workers can share one file; PostgreSQL is used through psycopg 3, optionally with a
second engine on a replica for the reads that may lag (:meth:`Database.replica_session`).

A PostgreSQL URL may list several servers (``postgresql://h1,h2/db?target_session_attrs=
read-write``): every new connection goes to whichever is the primary then. After a
restart or a switchover, pre-ping drops the pool's dead connections at checkout; a unit
of work already running on one fails (syndicator.store.outage says which errors mean
that) and is answered 503 or tried again by its caller."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# create_engine through the module: tracing patches it there (syndicator.tracing).
import sqlalchemy
from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.orm import Session, sessionmaker

from syndicator.permissions import private_dir, private_file
from syndicator.store.outage import READ_ONLY_SQL_TRANSACTION
from syndicator.store.urls import connect_options, expand_host_list

__all__ = ["Database", "normalise_url"]


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use psycopg 3 for them; a host list in the
    authority becomes ``host`` parameters (syndicator.store.urls)."""
    parsed = make_url(expand_host_list(url))
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


# How long a SQLite writer waits for another's lock before "database is locked".
_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# An execution option marking the connections of Database.read_session.
_READ_ONLY = "syndicator_read_only"


def _sqlite_begin_immediate(conn: Any) -> None:
    # Writers take the lock at BEGIN, so a read-then-write never fails half-way
    # with "database is locked" after the busy timeout was already waited out.
    # Read-only units of work begin deferred: in WAL mode a reader neither waits for
    # the writer nor holds it up, so a worker checking for work never stalls a publish.
    read_only = conn.get_execution_options().get(_READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _create_private_sqlite(path: Path) -> None:
    """Only the owner may read the database: SQLite gives its -wal and -shm files the
    main file's mode, so creating that one with 600 covers all three."""
    if not path.parent.exists():
        # Only a directory we create: an existing one (a home directory) is not ours to tighten.
        private_dir(path.parent)
    private_file(path)


def _standby_is_a_disconnect(context: ExceptionContext) -> None:
    """A write refused as read-only means this connection reached a standby (a demoted
    primary still accepting connections): treat it as a dead connection, so the pool
    drops every connection it holds and the next ones find the primary again."""
    if getattr(context.original_exception, "sqlstate", None) == READ_ONLY_SQL_TRANSACTION:
        context.is_disconnect = True


def _postgres_engine(url: str, primary: bool) -> Engine:
    parsed, options = connect_options(make_url(url))
    engine = sqlalchemy.create_engine(parsed, pool_pre_ping=True, pool_size=5, connect_args=options)
    if primary:
        event.listen(engine, "handle_error", _standby_is_a_disconnect)
    return engine


class Database:
    """``read_url``: a replica (PostgreSQL) for :meth:`replica_session`; writes, and the
    reads that must see the last commit, always go to ``url``."""

    def __init__(self, url: str, read_url: str | None = None) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                _create_private_sqlite(Path(parsed.database))
            self.engine: Engine = sqlalchemy.create_engine(
                self.url, connect_args={"check_same_thread": False, "timeout": 30}
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # Let SQLAlchemy, not pysqlite, decide when transactions begin.
            event.listen(
                self.engine,
                "connect",
                lambda dbapi_conn, _rec: setattr(dbapi_conn, "isolation_level", None),
            )
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
        else:
            self.engine = _postgres_engine(self.url, primary=True)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Reads that must not wait for SQLite's write lock (readiness, read_session).
        self.read_engine = self.engine.execution_options(**{_READ_ONLY: True})
        self.read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        self.replica: Engine | None = None
        if read_url is not None:
            self.replica = _postgres_engine(normalise_url(read_url), primary=False)
        self.replica_sessions = sessionmaker(
            self.replica or self.read_engine, expire_on_commit=False
        )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A unit of work that only reads (a write in it may fail with "database is
        locked" on SQLite): it sees the last commit and takes no write lock."""
        with self.read_sessions() as session, session.begin():
            yield session

    @contextmanager
    def replica_session(self) -> Iterator[Session]:
        """A read that may lag behind the last commit by the replica's delay: the residents'
        site, search and the feeds' web reads. On the replica when one is configured,
        else a :meth:`read_session`. Never for a read a write then depends on."""
        with self.replica_sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def write_lock_free(self, wait_seconds: float = 1.0) -> bool:
        """Whether a writer gets SQLite's one write lock within ``wait_seconds``. Readers
        never wait in WAL mode, so a connection holding a write transaction (a stuck
        process, an operator's shell) shows only here, while every intake and every
        recorded outcome waits behind it. PostgreSQL has no database-wide write lock."""
        if not self.is_sqlite:
            return True
        with self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.execute(f"PRAGMA busy_timeout={int(wait_seconds * 1000)}")
            try:
                raw.execute("BEGIN IMMEDIATE")
                raw.execute("ROLLBACK")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                return False
            finally:
                raw.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        return True

    def dispose(self) -> None:
        self.engine.dispose()
        if self.replica is not None:
            self.replica.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Close pooled connections even when the block failed, so none is left
        # to be garbage-collected (and warned about) somewhere else.
        self.dispose()

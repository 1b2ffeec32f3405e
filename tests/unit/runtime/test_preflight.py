"""Start-up checks name the problem and its fix in one line."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from syndicator.config import load_settings
from syndicator.runtime.preflight import (
    check_database,
    check_database_writable,
    check_encryption_keys,
    check_redis,
)
from syndicator.store.db import Database
from syndicator.store.migrate import schema_state, upgrade
from syndicator.store.sealed import generate_key


def test_a_database_never_migrated_says_run_migrate(tmp_path: Path) -> None:
    with Database(f"sqlite:///{tmp_path / 'new.db'}") as db:
        problem = check_database(db)
    assert problem is not None and problem.check == "schema"
    assert str(problem).endswith("run: syndicator migrate")


def test_an_older_schema_names_both_revisions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0002")
    with Database(url) as db:
        head = schema_state(db).head
        problem = check_database(db)
    assert problem is not None and "0002" in str(problem) and head in str(problem)
    assert "\n" not in str(problem)


def test_an_up_to_date_database_passes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ok.db'}"
    upgrade(url)
    with Database(url) as db:
        assert check_database(db) is None


def test_an_unreachable_database_hides_the_password() -> None:
    with Database("postgresql://syndicator:s3cret@127.0.0.1:1/none") as db:
        problem = check_database(db)
    assert problem is not None and problem.check == "database"
    assert "s3cret" not in str(problem) and "SYNDICATOR_DATABASE_URL" in str(problem)


def test_an_unreachable_redis_names_the_setting() -> None:
    # No retries: a refused connection is the same refusal the fourth time, seconds later.
    client = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    problem = check_redis(client)
    assert problem is not None and "SYNDICATOR_REDIS_URL" in str(problem)


def test_no_encryption_key_names_the_setting(tmp_path: Path) -> None:
    settings = load_settings({"SYNDICATOR_DATA_DIR": str(tmp_path)})
    problem = check_encryption_keys(settings.with_(encryption_keys=()))
    assert problem is not None and problem.check == "encryption"
    assert "SYNDICATOR_ENCRYPTION_KEYS" in str(problem)
    assert "syndicator secret generate-encryption-key" in str(problem)
    bad = check_encryption_keys(settings.with_(encryption_keys=("not-a-fernet-key",)))
    assert bad is not None and "key 1 is not a Fernet key" in str(bad)
    assert check_encryption_keys(settings.with_(encryption_keys=(generate_key(),))) is None


def test_a_sqlite_write_lock_held_elsewhere_is_named_and_its_release_seen(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    upgrade(f"sqlite:///{path}")
    with Database(f"sqlite:///{path}") as db:
        assert check_database_writable(db) is None
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's write transaction
        try:
            problem = check_database_writable(db)
            assert check_database(db) is None, "reads still answer"
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert problem is not None and problem.check == "write_lock"
        assert "locked for writing" in str(problem)
        assert check_database_writable(db) is None
        with db.session() as session:  # the probe leaves the normal busy timeout behind
            assert session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000

"""Start-up checks name the problem and its fix in one line."""

from __future__ import annotations

from pathlib import Path

import redis

from syndicator.runtime.preflight import check_database, check_redis
from syndicator.store.db import Database
from syndicator.store.migrate import schema_state, upgrade


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
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    problem = check_redis(client)
    assert problem is not None and "SYNDICATOR_REDIS_URL" in str(problem)

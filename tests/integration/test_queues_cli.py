"""`syndicator queues purge`: asks first, empties a queue and its priority lists, audits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import select
from typer.testing import CliRunner

from syndicator.cli import app
from syndicator.ops.readings import PRIORITY_SUFFIXES
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import AuditEntry


@pytest.fixture
def broker(
    sqlite_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[redis.Redis]:
    monkeypatch.setenv("SYNDICATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SYNDICATOR_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SYNDICATOR_REDIS_URL", redis_url)
    upgrade(sqlite_url)
    client = redis.Redis.from_url(redis_url)
    client.rpush("email", *["m"] * 3)
    client.rpush("email" + PRIORITY_SUFFIXES[2], "p")
    client.rpush("feeds", "f")
    yield client
    client.close()


def test_help() -> None:
    result = CliRunner().invoke(app, ["queues", "purge", "--help"])
    assert result.exit_code == 0 and "--yes" in result.output and "QUEUE" in result.output


def test_purge_asks_first_and_keeps_the_queue_when_told_no(broker: redis.Redis) -> None:
    result = CliRunner().invoke(app, ["queues", "purge", "email"], input="n\n")
    assert result.exit_code == 1
    assert "delete 4 messages waiting in the email queue?" in result.output
    assert broker.llen("email") == 3


def test_purge_empties_the_queue_and_its_priority_lists_and_audits(
    broker: redis.Redis, sqlite_url: str
) -> None:
    result = CliRunner().invoke(app, ["queues", "purge", "email"], input="y\n")
    assert result.exit_code == 0, result.output
    assert "purged 4 messages from the email queue" in result.output
    assert broker.llen("email") == 0 and broker.llen("email" + PRIORITY_SUFFIXES[2]) == 0
    assert broker.llen("feeds") == 1  # other queues untouched
    again = CliRunner().invoke(app, ["queues", "purge", "feeds", "--yes"])
    assert again.exit_code == 0 and broker.llen("feeds") == 0
    with Database(sqlite_url) as db, db.session() as session:
        rows = [(r.action, r.target, r.detail) for r in session.scalars(select(AuditEntry))]
    assert rows == [("purge", "queue:email", "4 messages"), ("purge", "queue:feeds", "1 messages")]


def test_an_unknown_queue_is_refused_with_the_known_ones(broker: redis.Redis) -> None:
    result = CliRunner().invoke(app, ["queues", "purge", "celery", "--yes"])
    assert result.exit_code == 2
    assert "no queue 'celery': one of events" in result.output

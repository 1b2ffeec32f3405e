"""On a developer's own Redis the suite flushes only the databases it claimed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis

from syndicator.runtime.embedded_redis import EmbeddedRedis
from tests.services import OWNER_KEY, claim_databases, reset_database, with_db


def test_a_database_holding_someone_elses_keys_is_never_claimed(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path, tmp_path / "redis.sock")
    url = server.start()
    try:
        theirs = redis.Redis.from_url(with_db(url, 3))
        theirs.set("my:precious", "1")
        marked = redis.Redis.from_url(with_db(url, 4))
        marked.set(OWNER_KEY, f"syndicator-tests-{_finished_pid()}")
        marked.set("leftover", "1")  # an earlier run that died before cleaning up
        held = redis.Redis.from_url(with_db(url, 5))
        held.set(OWNER_KEY, f"syndicator-tests-{os.getpid()}")  # a suite running right now
        claimed = claim_databases(url, "syndicator-tests-2", range(1, 7))
        assert claimed == [1, 2, 4, 6]
        held.close()
        for number in claimed:
            reset_database(with_db(url, number), "syndicator-tests-2")
        assert theirs.get("my:precious") == b"1"
        assert marked.get("leftover") is None and marked.get(OWNER_KEY) == b"syndicator-tests-2"
        theirs.close()
        marked.close()
    finally:
        server.stop()


def _finished_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid

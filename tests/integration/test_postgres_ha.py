"""PostgreSQL beyond one server, on a real primary and a streaming standby
(tests/pg_cluster.py): the hook through a primary restart, a switchover that the web app
and a worker ride out without a restart of their own, and the site read from the replica.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syndicator.config import Settings, load_settings
from syndicator.delivery.runner import Enqueue, load_event, plan_event, run_due
from syndicator.events.signing import sign_headers
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.web.app import create_app
from tests.factories import make_event
from tests.live_server import serve
from tests.pg_cluster import ReplicatedPair, replicated_pair, skip_reason
from tests.processes import wait_for
from tests.sealing import ENCRYPTION_KEY
from tests.unit.delivery.fakes import Newsletter, statuses

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


@pytest.fixture
def pair() -> Iterator[ReplicatedPair]:
    with replicated_pair() as servers:
        upgrade(servers.primary.url)
        yield servers


def _settings(tmp_path: Path, redis_url: str, secret: str, **database: str) -> Settings:
    return load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(tmp_path / "var"),
            "SYNDICATOR_REDIS_URL": redis_url,
            "SYNDICATOR_BASE_URL": "https://press.example.kr",
            "SYNDICATOR_CMS_SECRET": secret,
            "SYNDICATOR_ADMIN_TOKEN": "test-admin-token",
            "SYNDICATOR_ENCRYPTION_KEYS": ENCRYPTION_KEY,
            "SYNDICATOR_DOCUMENT_CHECK_SECONDS": "0",
            **{f"SYNDICATOR_DATABASE_{name.upper()}": url for name, url in database.items()},
        }
    )


def _publish(http: httpx.Client, secret: str, release_id: int) -> httpx.Response:
    raw = json.dumps(make_event(release_id), ensure_ascii=False).encode()
    headers = {"content-type": "application/json", **sign_headers(secret, raw)}
    return http.post("/hooks/cms", content=raw, headers=headers)


def _refused_for_now(answer: httpx.Response) -> None:
    """503 with Retry-After, as a problem document: never a 500."""
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_hook_answers_503_through_a_primary_restart(
    pair: ReplicatedPair, tmp_path: Path, redis_url: str, cms_secret: str
) -> None:
    settings = _settings(tmp_path, redis_url, cms_secret, url=pair.primary.url)
    with serve(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as http:
        assert _publish(http, cms_secret, 1).status_code == 202  # the pool holds connections
        pair.primary.stop()
        _refused_for_now(_publish(http, cms_secret, 2))
        _refused_for_now(http.get("/"))  # the site, and every route: never a 500
        pair.primary.start()
        # The same process, its pooled connections dead: pre-ping replaces them.
        assert _publish(http, cms_secret, 2).status_code == 202
        assert http.get("/releases/2").status_code == 200


def test_a_switchover_is_ridden_out_by_the_web_app_and_a_worker(
    pair: ReplicatedPair,
    tmp_path: Path,
    redis_url: str,
    cms_secret: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = _settings(tmp_path, redis_url, cms_secret, url=pair.url())
    channel = Newsletter(count=3)
    with (
        serve(create_app(settings)) as url,
        httpx.Client(base_url=url, timeout=30) as http,
        Database(settings.database_url) as worker_db,  # a worker process's, made once
    ):
        accepted = _publish(http, cms_secret, 1)
        assert accepted.status_code == 202
        event = load_event(worker_db, accepted.json()["event_id"])
        assert event is not None
        sent: list[Enqueue] = []
        plan_event(worker_db, {channel.name: channel}, event, sent.append)
        ids = [i for item in sent for i in item.delivery_ids]

        pair.primary.stop()  # the standby has every record: a clean shutdown sends it all
        _refused_for_now(_publish(http, cms_secret, 2))
        # A worker's task taking its rows now waits for a primary rather than failing.
        caplog.set_level(logging.WARNING, logger="syndicator.store")
        delivering = threading.Thread(target=run_due, args=(worker_db, channel, ids))
        delivering.start()
        wait_for(
            lambda: "database unavailable; trying again" in caplog.text,
            seconds=60,
            what="the claim to find no primary",
        )
        pair.standby.promote()
        delivering.join(timeout=120)

        assert sorted(channel.delivered) == [f"subscriber:{n}" for n in range(3)]
        assert statuses(worker_db) == {("succeeded", 1): 3}
        assert _publish(http, cms_secret, 2).status_code == 202
        assert http.get("/releases/2").status_code == 200
    assert pair.standby.query("SELECT count(*) FROM events") == 2


def test_the_site_reads_the_replica(
    pair: ReplicatedPair, tmp_path: Path, redis_url: str, cms_secret: str
) -> None:
    settings = _settings(
        tmp_path, redis_url, cms_secret, url=pair.primary.url, read_url=pair.standby.url
    )
    with serve(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as http:
        assert _publish(http, cms_secret, 1).status_code == 202
        pair.caught_up()
        pair.primary.stop()
        # Writes need the primary; the residents' pages and search need only the replica.
        _refused_for_now(_publish(http, cms_secret, 2))
        assert http.get("/releases/1").status_code == 200
        board = http.get("/", params={"q": make_event(1)["release"]["title"].split()[0]})
        assert board.status_code == 200
        assert "/releases/1" in board.text

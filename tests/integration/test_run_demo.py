"""`syndicator run --demo` (what `make run` starts): demo loaded, status and admin API answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import feedparser
import httpx
from sqlalchemy import select

from syndicator.channels.registry import ALL_QUEUES
from syndicator.store.db import Database
from syndicator.store.models import Delivery
from tests.system import RunningSystem, system_env, wait_for

DEMO = Path(__file__).resolve().parents[2] / "demo" / "releases"


def test_demo_run_loads_every_release_and_publishes_the_newest(
    tmp_path, sqlite_url, redis_url, cms_secret
):
    env = system_env(
        tmp_path, sqlite_url, redis_url, cms_secret, SYNDICATOR_ADMIN_TOKEN="demo-admin"
    )
    system = RunningSystem(env, tmp_path / "system.log", "--demo")
    newest = json.loads((DEMO / "867.json").read_text())["release"]["title"]
    try:
        system.start()
        wait_for(lambda: "데모 보도자료" in system.log(), what="the demo to load")

        def live_feed() -> feedparser.FeedParserDict | None:
            feed = feedparser.parse(system.get("/feeds/rss.xml").content)
            return feed if feed.entries and feed.entries[0].title == newest else None

        feed = wait_for(live_feed, what="the newest demo release at the top of the feed")
        assert not feed.bozo and len(feed.entries) == 20
        home = system.get("/")
        assert home.status_code == 200 and newest in home.text and 'lang="ko"' in home.text
        with Database(sqlite_url) as database:

            def statuses() -> list[str]:
                # A session per look: one long transaction would see one snapshot.
                with database.session() as session:
                    return list(session.scalars(select(Delivery.status)))

            wait_for(
                lambda: statuses() == ["succeeded"], what="the published demo release's delivery"
            )

        status = subprocess.run(
            [sys.executable, "-m", "syndicator", "status", "--json"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert tuple(report["queues"]) == ALL_QUEUES
        assert report["outbox_backlog"] == 0 and report["outbox_awaiting_fanout"] == 0
        assert report["deliveries"] == {"feeds": {"succeeded": 1}}

        published = subprocess.run(
            [sys.executable, "-m", "syndicator", "publish", str(DEMO / "866.json")],
            env={**os.environ, **env, "SYNDICATOR_BASE_URL": system.url},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert published.returncode == 0, published.stderr
        assert '"status": "unchanged"' in published.stdout  # the demo loaded it already

        unauthorised = system.get("/admin/status")
        assert unauthorised.status_code == 401
        authorised = httpx.get(
            f"{system.url}/admin/status", headers={"Authorization": "Bearer demo-admin"}
        )
        assert authorised.status_code == 200
        assert authorised.json()["deliveries"] == {"feeds": {"succeeded": 1}}
    finally:
        system.stop()
    assert "Traceback" not in system.log()

"""`syndicator run --demo` (what `make run` starts): demo loaded, status and admin API answer."""

from __future__ import annotations

import json
import os
import shlex
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

        banner = wait_for(lambda: banner_of(system.log()), what="the start-up banner")
        assert f".eml files in {tmp_path / 'var' / 'outbox'}" in banner
        # The demo's partners live on this machine: loopback is allowed, and said so.
        assert "loopback allowed (--demo: SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS=" in banner
        local = httpx.post(
            f"{system.url}/api/partners",
            json={"name": "local", "url": "http://127.0.0.1:9/hook"},
            headers={"Authorization": "Bearer demo-admin"},
            timeout=30,
        )
        assert local.status_code == 201, local.text
        # The publish hint works exactly as printed, from where the run was started.
        hint = next(line for line in banner.splitlines() if "Publish:" in line)
        shown = subprocess.run(
            shlex.split(hint.split("Publish:", 1)[1]),
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, (hint, shown.stderr)
        assert '"status": "unchanged"' in shown.stdout

        unauthorised = system.get("/admin/status")
        assert unauthorised.status_code == 401
        authorised = httpx.get(
            f"{system.url}/admin/status", headers={"Authorization": "Bearer demo-admin"}, timeout=30
        )
        assert authorised.status_code == 200
        assert authorised.json()["deliveries"] == {"feeds": {"succeeded": 1}}
    finally:
        system.stop()
    assert "Traceback" not in system.log()
    # The last word is ours, after every child has exited.
    assert system.log().rstrip().splitlines()[-1].startswith("syndicator stopped")


def banner_of(log: str) -> str | None:
    """The banner, if it is in the log, checked to be in one piece: from its rule to its
    last line, nothing but its own indented lines."""
    lines = log.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("─") and "syndicator" in line]
    if not starts:
        return None
    end = next(i for i in range(starts[-1], len(lines)) if "Ctrl-C stops" in lines[i])
    body = lines[starts[-1] + 1 : end + 1]
    assert all(line.startswith("  ") for line in body), "\n".join(body)
    return "\n".join(body)

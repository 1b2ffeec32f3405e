"""Retractions reach readers that ignore tombstones, in every format: checked with feedparser
and with the `reader` library (a real client nobody here wrote), over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import pytest
from reader import make_reader

from syndicator.config import Settings
from syndicator.feeds.publish import publish_changes, rebuild_all
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from tests.integration.feeds_support import AT, event, publish, serving, store

RETRACTED = 8
REASON = "담당 부서 요청으로 철회"


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[Settings, Database, str]]:
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=sqlite_url,
        redis_url=None,
        base_url="https://press.example.kr",
        cms_secrets=(),
        admin_token=None,
        smtp_url=None,
        feed_size=5,
        document_check_seconds=0,
    )
    upgrade(sqlite_url)
    db = Database(sqlite_url)
    store(db, (event(n) for n in range(1, 9)))
    rebuild_all(db, settings)
    with serving(settings) as url:
        yield settings, db, url
    db.dispose()


def _retract(db: Database, settings: Settings, when: datetime) -> None:
    retraction = event(RETRACTED, type="release.retracted", updated_at=when.isoformat())
    retraction["reason"] = REASON
    publish(db, settings, retraction)


def _entry(url: str, path: str) -> feedparser.FeedParserDict | None:
    parsed = feedparser.parse(httpx.get(f"{url}{path}", timeout=30).content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return next((e for e in parsed.entries if e.id.endswith(f":press/{RETRACTED}")), None)


def test_a_retraction_replaces_the_entry_in_place_then_leaves(site, tmp_path: Path) -> None:
    settings, db, url = site
    reader = make_reader(str(tmp_path / "reader.sqlite"))
    for path in ("/feeds/rss.xml", "/feeds/feed.json", "/feeds/atom.xml"):
        reader.add_feed(f"{url}{path}")
    reader.update_feeds()
    held = {e.feed_url: e for e in reader.get_entries() if e.id.endswith(f":press/{RETRACTED}")}
    assert len(held) == 3 and not any(e.title.startswith("[철회]") for e in held.values())

    _retract(db, settings, datetime.now(UTC) - timedelta(hours=1))
    reader.update_feeds(scheduled=False)  # the reader's next update, an hour later by default
    now = {e.feed_url: e for e in reader.get_entries() if e.id.endswith(f":press/{RETRACTED}")}
    for path in ("/feeds/rss.xml", "/feeds/feed.json", "/feeds/atom.xml"):
        notice = now[f"{url}{path}"]
        assert notice.id == held[f"{url}{path}"].id  # replaced in place, not a new entry
        assert notice.title.startswith("[철회] ")
        assert REASON in (notice.summary or "") + "".join(c.value for c in notice.content)
        assert not notice.enclosures
    # During the notice window Atom has the notice, not a tombstone that contradicts it.
    assert b"deleted-entry" not in httpx.get(f"{url}/feeds/atom.xml", timeout=30).content

    # After the window, the notice leaves the live feeds; Atom keeps a tombstone (RFC 6721).
    later = settings.with_(retraction_notice_days=0)
    publish_changes(db, later, [RETRACTED])
    assert _entry(url, "/feeds/rss.xml") is None
    assert _entry(url, "/feeds/atom.xml") is None
    items = httpx.get(f"{url}/feeds/feed.json", timeout=30).json()["items"]
    assert not any(i["id"].endswith(f":press/{RETRACTED}") for i in items)
    atom = httpx.get(f"{url}/feeds/atom.xml", timeout=30).content
    assert f'ref="tag:daegu.go.kr,2024:press/{RETRACTED}"'.encode() in atom
    assert REASON.encode() in atom and f"{AT}deleted-entry".split("}")[1].encode() in atom

"""Helpers for feed integration tests: store events, publish, read documents, serve HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import uvicorn
from lxml import etree
from starlette.applications import Starlette

from syndicator.config import Settings
from syndicator.events.schema import CmsEvent
from syndicator.feeds.publish import publish_changes
from syndicator.feeds.render.model import KST
from syndicator.intake.accept import new_event_id, store_event
from syndicator.store.db import Database
from syndicator.web.feeds import feed_routes
from syndicator.web.server import CoalescingHttpToolsProtocol
from tests.factories import make_event
from tests.services import free_port

ATOM = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"
AT = "{http://purl.org/atompub/tombstones/1.0}"
START = datetime(2024, 1, 3, 9, 0, tzinfo=KST)
DEPARTMENTS = ("위생정책과", "관광과", "교통정책과")
CATEGORIES = ("경제", "관광", "복지", "교통")


def published_at(n: int) -> datetime:
    """Release n every 2.5 days from START: 50 releases span five KST months."""
    return START + timedelta(hours=60 * n)


def event(n: int, **fields: Any) -> dict[str, Any]:
    when = published_at(n).isoformat()
    defaults: dict[str, Any] = {
        "published_at": when,
        "updated_at": when,
        "department": DEPARTMENTS[n % len(DEPARTMENTS)],
        "categories": [CATEGORIES[n % len(CATEGORIES)]],
    }
    return make_event(n, **{**defaults, **fields})


def store(db: Database, events: Iterable[dict[str, Any]]) -> list[int]:
    ids = []
    with db.session() as session:
        for item in events:
            parsed = CmsEvent.model_validate(item)
            store_event(session, parsed, webhook_id=new_event_id(), source="import", enqueue=False)
            ids.append(parsed.release.id)
    return ids


def publish(db: Database, settings: Settings, *events: dict[str, Any]) -> list[str]:
    return publish_changes(db, settings, store(db, events))


def path_of(settings: Settings, url: str) -> Path:
    prefix = f"{settings.base_url}/feeds/"
    assert url.startswith(prefix), url
    return settings.feeds_export_dir / url.removeprefix(prefix)


def parsed_feed(path: Path) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo, (path, parsed.get("bozo_exception"))
    return parsed


def release_number(entry_id: str) -> int:
    return int(entry_id.rsplit("/", 1)[1])


def atom_ids(path: Path) -> list[int]:
    root = etree.parse(str(path)).getroot()
    return [release_number(e.findtext(f"{ATOM}id") or "") for e in root.findall(f"{ATOM}entry")]


def links(path: Path) -> dict[str, str]:
    root = etree.parse(str(path)).getroot()
    return {link.get("rel", ""): link.get("href", "") for link in root.findall(f"{ATOM}link")}


def walk_archives(settings: Settings, scope_dir: str = "") -> list[int]:
    """Every release number from a live Atom feed back through prev-archive, in order,
    checking each archive's fh:archive marker and the links back to its neighbours.
    ``scope_dir`` is "" for the site, or "departments/<slug>/" and the like."""
    current = settings.feeds_export_dir / scope_dir / "atom.xml"
    numbers = atom_ids(current)
    newer_url = None
    url = links(current).get("prev-archive")
    while url:
        assert url.startswith(f"{settings.base_url}/feeds/{scope_dir}archive/"), url
        page = path_of(settings, url)
        root = etree.parse(str(page)).getroot()
        assert root.find(f"{FH}archive") is not None, page
        rels = links(page)
        assert rels.get("next-archive") == newer_url, page
        assert rels["current"] == f"{settings.base_url}/feeds/{scope_dir}atom.xml"
        numbers += atom_ids(page)
        newer_url, url = url, rels.get("prev-archive")
    return numbers


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """A real uvicorn on a free port serving only the feed routes, in a thread."""
    db = Database(settings.database_url)
    app = Starlette(routes=feed_routes(settings, db))
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws="none",
        http=CoalescingHttpToolsProtocol,  # what `syndicator web` serves with
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        db.dispose()

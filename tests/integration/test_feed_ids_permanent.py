"""Nothing readers keep (an entry's id, its link, a feed's URL) moves when the CMS updates a
release, whatever the update changes: publish/update/retract sequences with arbitrary
published_at and department changes, checked in RSS, Atom and JSON Feed."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from syndicator.config import Settings
from syndicator.feeds.render.model import KST
from syndicator.feeds.scopes import Scope
from syndicator.feeds.urls import feed_path
from syndicator.store import documents
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import Release, Taxon
from tests.integration.feeds_support import event, publish

# Around a KST new year, where a corrected date changes the year.
NEW_YEAR = datetime(2026, 1, 1, tzinfo=KST)
DEPARTMENTS = ("위생정책과", "관광과", "교통정책과")
_numbers = itertools.count(9000)

step = st.tuples(
    st.sampled_from(["release.updated", "release.updated", "release.retracted"]),
    st.integers(min_value=-400 * 24 * 60, max_value=400 * 24 * 60),  # minutes from new year
    st.sampled_from(DEPARTMENTS),
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Database]]:
    tmp = tmp_path_factory.mktemp("ids")
    url = f"sqlite:///{tmp / 'syndicator.db'}"
    upgrade(url)
    db = Database(url)
    yield (
        Settings(
            data_dir=tmp / "var",
            database_url=url,
            redis_url=None,
            base_url="https://press.example.kr",
            cms_secrets=(),
            admin_token=None,
            smtp_url=None,
            feed_size=500,  # every release stays in the live feeds
            document_check_seconds=0,
        ),
        db,
    )
    db.dispose()


def _document(db: Database, path: str) -> bytes:
    with db.session() as session:
        found = documents.load(session, path)
    assert found is not None, path
    return found.body


def _shown(db: Database, scope_dir: str, number: int) -> dict[str, tuple[str, str]]:
    """(id, link) of the release's entry in each format of one scope, where it is shown."""
    found: dict[str, tuple[str, str]] = {}
    for name in ("rss.xml", "atom.xml"):
        parsed = feedparser.parse(_document(db, scope_dir + name))
        assert not parsed.bozo, parsed.get("bozo_exception")
        for e in parsed.entries:
            if e.id.endswith(f":press/{number}"):
                found[name] = (e.id, e.link)
    for item in json.loads(_document(db, scope_dir + "feed.json"))["items"]:
        if item["id"].endswith(f":press/{number}"):
            found["feed.json"] = (item["id"], item["url"])
    return found


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.generate],
)
@given(
    first=st.integers(min_value=-400 * 24 * 60, max_value=400 * 24 * 60),
    steps=st.lists(step, min_size=1, max_size=4),
)
def test_updates_never_move_an_id_a_link_or_a_feed_url(site, first: int, steps) -> None:
    settings, db = site
    number = next(_numbers)
    published = NEW_YEAR + timedelta(minutes=first)
    expected_id = f"tag:daegu.go.kr,{published.year}:press/{number}"
    link = f"https://www.daegu.go.kr/news/press/{number}"
    clock = datetime(2027, 3, 1, tzinfo=UTC)  # after every published_at: never stale
    publish(
        db,
        settings,
        event(
            number,
            published_at=published.isoformat(),
            updated_at=clock.isoformat(),
            department=DEPARTMENTS[0],
        ),
    )
    slugs: dict[str, str] = {}
    for n, (kind, minutes, department) in enumerate(steps, start=1):
        when = NEW_YEAR + timedelta(minutes=minutes)
        updated = datetime.now(UTC) - timedelta(hours=1) + timedelta(seconds=n)
        change = event(
            number,
            type=kind,
            published_at=when.isoformat(),
            updated_at=max(updated, clock + timedelta(seconds=n)).isoformat(),
            department=department,
        )
        publish(db, settings, change)
        with db.session() as session:
            row = session.get(Release, number)
            assert row is not None
            department_slug = row.department_slug
            for name, slug in session.query(Taxon.name, Taxon.slug).filter_by(kind="department"):
                assert slugs.setdefault(name, slug) == slug  # a slug never changes
        scope = Scope("department", department_slug, department)
        for scope_dir in ("", feed_path(scope, "rss").removesuffix("rss.xml")):
            shown = _shown(db, scope_dir, number)
            # Shown everywhere (an entry or its [철회] notice), always the same id and link.
            assert set(shown) == {"rss.xml", "atom.xml", "feed.json"}, (scope_dir, shown)
            assert set(shown.values()) == {(expected_id, link)}, shown


def test_the_migration_keeps_the_ids_readers_already_hold(database_url: str) -> None:
    """Releases stored before 0013 keep the year every id so far was made from."""
    upgrade(database_url, "0012")
    with Database(database_url) as db:
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO releases (id, title, subtitle, summary, body_html, department,"
                " department_slug, contact, categories, url, published_at, updated_at,"
                " attachments, license, views, retracted_at, last_event_id) VALUES"
                " (7, '제목', NULL, NULL, '<p>본문</p>', '교통국', 'gyotongguk',"
                " NULL, '[]', 'https://x.kr/7', '2025-12-31 15:10:00', '2025-12-31 15:10:00',"
                " '[]', 'KOGL-1', NULL, NULL, 'evt_7')"
            )
        upgrade(database_url)
        with db.session() as session:
            row = session.get(Release, 7)
            assert row is not None
            assert row.first_published_at == row.published_at
            assert row.first_published_at.astimezone(KST).year == 2026

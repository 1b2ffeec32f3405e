"""Publishing feeds from a real database into files, read back with feedparser and lxml."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from lxml import etree

from syndicator.config import Settings
from syndicator.feeds.publish import publish_changes, rebuild_all
from syndicator.store.db import Database
from syndicator.store.documents import changed_since, current_version
from tests.integration.feeds_support import (
    AT,
    ATOM,
    DEPARTMENTS,
    atom_ids,
    event,
    parsed_feed,
    publish,
    published_at,
    release_number,
    snapshot,
    store,
    walk_archives,
)

DEMO = Path(__file__).parents[2] / "demo" / "releases"
SCHEMA = json.loads(
    (Path(__file__).parents[1] / "schemas" / "jsonfeed-1.1.schema.json").read_text("utf-8")
)


@pytest.fixture
def feeds(settings: Settings) -> Settings:
    return settings.with_(feed_size=20, websub_hub="https://hub.example.kr/")


def _retract(n: int, days_later: float = 200, **fields: object) -> dict:
    fields.setdefault("updated_at", (published_at(n) + timedelta(days=days_later)).isoformat())
    return event(n, type="release.retracted", **fields)


def _check_every_document(settings: Settings) -> None:
    for path in settings.feeds_export_dir.rglob("*.xml"):
        parsed = parsed_feed(path)
        assert parsed.version == ("rss20" if path.name == "rss.xml" else "atom10"), path
    for path in settings.feeds_export_dir.rglob("feed.json"):
        Draft202012Validator(SCHEMA).validate(json.loads(path.read_bytes()))


def test_walking_archives_reaches_every_release_exactly_once(db: Database, feeds: Settings) -> None:
    store(db, (event(n) for n in range(1, 31)))
    rebuild_all(db, feeds)
    for n in range(31, 45):  # one publish at a time, as the CMS would
        publish(db, feeds, event(n))
    publish(db, feeds, *(event(n) for n in range(45, 51)))  # a burst, one call
    publish(db, feeds, event(51, published_at=published_at(2).isoformat()))  # backdated
    # An update that moves a release to another month and department.
    moved = published_at(12) + timedelta(days=1)
    publish(
        db,
        feeds,
        event(
            40,
            published_at=published_at(12).isoformat(),
            updated_at=moved.isoformat(),
            department="관광과",
        ),
    )
    publish(db, feeds, _retract(48), _retract(5))  # one live, one archived

    numbers = walk_archives(feeds)
    assert Counter(numbers).most_common(1)[0][1] == 1, "a release appears twice"
    # The live retraction leaves the live Atom feed (a tombstone says so); the archived one
    # stays in its archive as a notice.
    assert set(numbers) == set(range(1, 52)) - {48}
    assert len(atom_ids(feeds.feeds_export_dir / "atom.xml")) == 20
    _check_every_document(feeds)


def _expected_in(kind: str, name: str, ids: range, moved: dict[int, str]) -> set[int]:
    found = set()
    for n in ids:
        fields = event(n)["release"]
        if kind == "department" and moved.get(n, fields["department"]) == name:
            found.add(n)
        if kind == "category" and name in fields["categories"]:
            found.add(n)
    return found


@pytest.mark.parametrize(
    ("scope_dir", "kind", "name"),
    [
        ("departments/gwangwanggwa/", "department", "관광과"),
        ("departments/wisaengjeongchaekgwa/", "department", "위생정책과"),
        ("categories/gwangwang/", "category", "관광"),
    ],
)
def test_each_department_and_category_has_its_own_walkable_archive(
    db: Database, feeds: Settings, scope_dir: str, kind: str, name: str
) -> None:
    """With a small live feed, each scope's older releases live in its own monthly archives."""
    small = feeds.with_(feed_size=4)
    store(db, (event(n) for n in range(1, 31)))
    rebuild_all(db, small)
    for n in range(31, 41):
        publish(db, small, event(n))
    later = (published_at(8) + timedelta(days=300)).isoformat()
    publish(db, small, event(8, department="관광과", updated_at=later))  # from 교통정책과
    publish(db, small, _retract(10))
    numbers = walk_archives(small, scope_dir)
    assert Counter(numbers).most_common(1)[0][1] == 1, "a release appears twice"
    expected = _expected_in(kind, name, range(1, 41), {8: "관광과"})
    assert set(numbers) == expected
    # The retracted release keeps its place in its archive, as a notice and nothing more.
    if 10 in expected:
        shown = [
            entry
            for page in (small.feeds_export_dir / scope_dir / "archive").glob("*.xml")
            for entry in parsed_feed(page).entries
            if entry.id.endswith(":press/10")
        ]
        assert [e.title[:5] for e in shown] == ["[철회] "]
        assert not shown[0].get("enclosures") and "철회되었습니다" in shown[0].summary
    assert len(atom_ids(small.feeds_export_dir / scope_dir / "atom.xml")) == 4
    archive = next((small.feeds_export_dir / scope_dir / "archive").glob("*.xml"))
    parsed = parsed_feed(archive)
    assert parsed.feed.title.startswith(f"대구광역시 보도자료 · {name} · ")
    _check_every_document(small)


def test_incremental_publishing_equals_a_full_rebuild(
    db: Database, feeds: Settings, tmp_path: Path
) -> None:
    store(db, (event(n) for n in range(1, 26)))
    rebuild_all(db, feeds)
    for n in range(26, 41):
        publish(db, feeds, event(n))
    publish(db, feeds, _retract(39), _retract(3))
    publish(
        db,
        feeds,
        event(
            30,
            updated_at=(published_at(30) + timedelta(days=90)).isoformat(),
            title="수정된 제목",
            categories=["환경"],
        ),
    )
    fresh = feeds.with_(data_dir=tmp_path / "fresh")
    rebuild_all(db, fresh)
    assert snapshot(feeds.feeds_export_dir) == snapshot(fresh.feeds_export_dir)


def test_a_repeat_publish_writes_nothing_and_reports_nothing(db: Database, feeds: Settings) -> None:
    store(db, (event(n) for n in range(1, 30)))
    rebuild_all(db, feeds)
    before = {p: p.stat().st_mtime_ns for p in feeds.feeds_export_dir.rglob("*.*")}
    assert publish_changes(db, feeds, [29, 3]) == []
    assert rebuild_all(db, feeds) == []
    assert {p: p.stat().st_mtime_ns for p in feeds.feeds_export_dir.rglob("*.*")} == before


def test_a_publish_reports_exactly_the_changed_documents(db: Database, feeds: Settings) -> None:
    store(db, (event(n) for n in range(1, 30)))
    rebuild_all(db, feeds)
    before = snapshot(feeds.feeds_export_dir)
    changed = publish(db, feeds, event(30))
    after = snapshot(feeds.feeds_export_dir)
    differing = {name for name in after if before.get(name) != after[name]} - {"index.json"}
    base = f"{feeds.base_url}/feeds/"
    assert sorted(changed) == sorted(base + name for name in differing)
    assert base + "rss.xml" in changed and base + "atom.xml" in changed
    # The release pushed out of the live feed lands in its month's archive.
    assert any("/archive/" in url for url in changed)


def test_the_site_feeds_are_stored_and_announced_before_the_other_scopes(
    db: Database, feeds: Settings
) -> None:
    """Readers mostly poll the site's feeds: the first version a publish announces already
    holds them, before the department and category feeds are rendered."""
    store(db, (event(n) for n in range(1, 30)))
    rebuild_all(db, feeds)
    seen: list[set[str]] = []

    def announce() -> None:
        with db.read_session() as session:
            seen.append({path for path, _ in changed_since(session, before)})

    with db.read_session() as session:
        before = current_version(session)
    publish_changes(db, feeds, store(db, [event(30)]), announce)
    assert seen[0] == {"rss.xml", "atom.xml", "feed.json"}
    assert len(seen) >= 2 and any("/" in path for path in seen[-1] - seen[0])


def test_ids_are_stable_across_rerender_and_update(db: Database, feeds: Settings) -> None:
    publish(db, feeds, *(event(n) for n in range(1, 6)))
    site = feeds.feeds_export_dir / "rss.xml"
    first = {e.title: e.id for e in parsed_feed(site).entries}
    rebuild_all(db, feeds)
    assert {e.title: e.id for e in parsed_feed(site).entries} == first
    later = (published_at(3) + timedelta(days=400)).isoformat()  # updated in the next year
    publish(db, feeds, event(3, title="제목 정정", updated_at=later))
    entries = {
        release_number(e.id): e for e in parsed_feed(feeds.feeds_export_dir / "atom.xml").entries
    }
    assert entries[3].id == "tag:daegu.go.kr,2024:press/3"
    assert entries[3].title == "제목 정정"
    assert entries[3].updated.endswith("+09:00") and entries[3].updated.startswith("2025-")


def test_a_department_change_moves_the_entry_between_feeds(db: Database, feeds: Settings) -> None:
    publish(db, feeds, *(event(n, department="위생정책과") for n in range(1, 4)))
    later = (published_at(2) + timedelta(days=1)).isoformat()
    changed = publish(db, feeds, event(2, department="관광과", updated_at=later))
    old = feeds.feeds_export_dir / "departments" / "wisaengjeongchaekgwa" / "atom.xml"
    new = feeds.feeds_export_dir / "departments" / "gwangwanggwa" / "atom.xml"
    assert atom_ids(old) == [3, 1]
    assert atom_ids(new) == [2]
    assert f"{feeds.base_url}/feeds/departments/wisaengjeongchaekgwa/atom.xml" in changed


def test_a_retraction_leaves_the_live_feeds_and_leaves_a_tombstone(
    db: Database, feeds: Settings
) -> None:
    where = {"department": "관광과", "categories": ["관광"]}
    publish(db, feeds, *(event(n, **where) for n in range(1, 5)))
    publish(db, feeds, _retract(3, days_later=10, **where))
    entry_id = "tag:daegu.go.kr,2024:press/3"
    scopes = [
        feeds.feeds_export_dir,
        feeds.feeds_export_dir / "departments" / "gwangwanggwa",
        feeds.feeds_export_dir / "categories" / "gwangwang",
    ]
    for scope in scopes:
        for name in ("rss.xml", "atom.xml"):
            assert entry_id not in {e.id for e in parsed_feed(scope / name).entries}
        items = json.loads((scope / "feed.json").read_bytes())["items"]
        assert entry_id not in {item["id"] for item in items}
        root = etree.parse(str(scope / "atom.xml")).getroot()
        stones = root.findall(f"{AT}deleted-entry")
        assert [s.get("ref") for s in stones] == [entry_id]
        assert stones[0].get("when") == (published_at(3) + timedelta(days=10)).isoformat()
        assert stones[0].findtext(f"{AT}comment", "").endswith("철회되었습니다.")
        assert root.findtext(f"{ATOM}updated") == stones[0].get("when")


def test_demo_data_renders_valid_feeds(db: Database, settings: Settings) -> None:
    events = [json.loads(p.read_text("utf-8")) for p in sorted(DEMO.glob("*.json"))]
    assert events, "demo data missing"
    store(db, events)
    small = settings.with_(feed_size=10)
    changed = rebuild_all(db, small)
    assert f"{small.base_url}/feeds/archive/2020-12.xml" in changed
    _check_every_document(small)
    site = parsed_feed(small.feeds_export_dir / "atom.xml")
    assert site.entries[0].title == "대구, 이용기술의 챔피언을 찾아라!"
    assert all(e.published.endswith("+09:00") for e in site.entries)
    assert sorted(walk_archives(small)) == sorted(e["release"]["id"] for e in events)
    index = json.loads((small.feeds_export_dir / "index.json").read_bytes())
    assert {d["name"] for d in index["departments"]} >= {"위생정책과", "관광과"}
    assert all(d["rss"].startswith(small.base_url) for d in index["categories"])


def test_files_carry_the_content_time_as_mtime(db: Database, feeds: Settings) -> None:
    publish(db, feeds, *(event(n) for n in range(1, 4)))
    assert (feeds.feeds_export_dir / "rss.xml").stat().st_mtime == published_at(3).timestamp()
    # A change without a newer entry still moves the mtime forward.
    publish(db, feeds, _retract(1, days_later=0.5))
    department = feeds.feeds_export_dir / "departments"
    assert (feeds.feeds_export_dir / "atom.xml").stat().st_mtime > published_at(3).timestamp()
    assert department.exists()


def test_random_histories_publish_like_a_full_rebuild(
    db: Database, feeds: Settings, tmp_path: Path
) -> None:
    """Seeded random publishes, backdated releases, moves, retractions and restorations;
    after every step the incremental result must equal a rebuild from scratch."""
    rng = random.Random(20240501)
    small = feeds.with_(feed_size=5)
    store(db, (event(n) for n in range(1, 8)))
    rebuild_all(db, small)
    known = list(range(1, 8))
    clock = {n: published_at(n) for n in known}  # the newest updated_at per release
    for step in range(60):
        n = rng.choice(known)
        later = max(clock[n], published_at(60)) + timedelta(hours=step + 1)
        choice = rng.random()
        if choice < 0.35:
            n = len(known) + 1
            when = published_at(rng.randint(0, n))  # sometimes backdated
            if rng.random() < 0.4:
                # Alone in a month of its own, long ago: retracting or moving it empties
                # the month, and its neighbours' prev/next-archive links must follow.
                when = published_at(0) - timedelta(days=31 * rng.randint(1, 12))
            item = event(n, published_at=when.isoformat())
            known.append(n)
            later = when
        elif choice < 0.55:
            item = _retract(n, updated_at=later.isoformat())
        elif choice < 0.8:
            item = event(n, updated_at=later.isoformat(), department=rng.choice(DEPARTMENTS))
        else:
            moved = rng.choice(
                [published_at(rng.randint(0, 40)), published_at(0) - timedelta(days=62)]
            )
            item = event(n, published_at=moved.isoformat(), updated_at=later.isoformat())
        clock[n] = later
        publish(db, small, item)
        fresh = small.with_(data_dir=tmp_path / f"fresh-{step}")
        rebuild_all(db, fresh)
        assert snapshot(small.feeds_export_dir) == snapshot(fresh.feeds_export_dir), (
            f"step {step}: {item}"
        )

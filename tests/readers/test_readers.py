"""The feed clients residents use, driven against a running system (`syndicator run`, a
signed CMS hook for every change) through a publish, an update that corrects the date
across a new year, and a retraction. Each test asserts what its reader shows afterwards.

The walk runs once per module; every reader refreshes after every step and its view is
kept per step, so each test below reads one reader's history.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import feedparser
import pytest

import tests.conftest as root
from tests.factories import make_event
from tests.readers.clients import NEWSBOAT, Newsboat, NewsboatItem, Rss2Email, make_reader_client
from tests.services import reset_database, with_db
from tests.system import RunningSystem, system_env, wait_for

NUMBER = 9002
TITLE = "<K-POP 콘서트> & 시민"
TITLE_SHOWN = "〈K-POP 콘서트〉 & 시민"  # in every format's reader, RSS included
UPDATED_TITLE = "<K-POP 콘서트> & 시민 (일정 변경)"
REASON = "행사 취소"
ID = f"tag:daegu.go.kr,2026:press/{NUMBER}"  # the year first published, for good
FILE = "https://www.daegu.go.kr/files/9002/공연안내.hwp"
STEPS = ("published", "updated", "retracted")
FORMATS = {"rss": "/feeds/rss.xml", "atom": "/feeds/atom.xml", "json": "/feeds/feed.json"}


@dataclass
class Walk:
    url: str
    newsboat: dict[tuple[str, str], list[NewsboatItem]] = field(default_factory=dict)
    reader: dict[str, dict[str, Any]] = field(default_factory=dict)
    mails: dict[tuple[bool, str], list[EmailMessage]] = field(default_factory=dict)
    parsed: dict[str, dict[str, Any]] = field(default_factory=dict)
    page: dict[str, int] = field(default_factory=dict)


def _events() -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    attachment = {
        "filename": "공연안내.hwp",
        "url": FILE,
        "size": 4096,
        "media_type": "application/x-hwp",
    }
    published = make_event(
        NUMBER,
        title=TITLE,
        published_at="2026-01-01T00:10:00+09:00",
        updated_at=(now - timedelta(minutes=30)).isoformat(),
        attachments=[attachment],
    )
    updated = make_event(
        NUMBER,
        type="release.updated",
        title=UPDATED_TITLE,
        published_at="2025-12-31T23:50:00+09:00",
        updated_at=(now - timedelta(minutes=20)).isoformat(),
        attachments=[attachment],
    )
    retracted = make_event(
        NUMBER,
        type="release.retracted",
        title=UPDATED_TITLE,
        published_at="2025-12-31T23:50:00+09:00",
        updated_at=(now - timedelta(minutes=10)).isoformat(),
        attachments=[attachment],
    )
    retracted["reason"] = REASON
    return [published, updated, retracted]


def _rendered(system: RunningSystem, marker: str, before: dict[str, bytes]) -> dict[str, bytes]:
    """Every document once the step is served: each changed, and RSS shows ``marker``.
    (Atom is not asked for the marker: a test below must be able to see it missing.)"""
    now = {fmt: system.get(path).content for fmt, path in FORMATS.items()}
    changed = all(now[fmt] != before.get(fmt) for fmt in FORMATS)
    return now if changed and marker.encode() in now["rss"] else {}


@pytest.fixture(scope="module")
def walk(
    tmp_path_factory: pytest.TempPathFactory, redis_server: root.RedisServer
) -> Iterator[Walk]:
    tmp = tmp_path_factory.mktemp("readers")
    redis_url = with_db(redis_server.url, redis_server.databases[-1])
    reset_database(redis_url, root.RUN_ID)
    env = system_env(tmp, f"sqlite:///{tmp / 'syndicator.db'}", redis_url, "whsec_" + "A" * 32)
    system = RunningSystem(env, tmp / "system.log")
    try:
        system.start()
        urls = {name: f"{system.url}{path}" for name, path in FORMATS.items()}
        # One newsboat per feed: its cache keeps one item per guid, whatever the feed.
        newsboats = (
            {fmt: Newsboat(tmp / f"newsboat-{fmt}", [urls[fmt]]) for fmt in ("rss", "atom")}
            if NEWSBOAT
            else {}
        )
        reader = make_reader_client(tmp / "reader", list(urls.values()))
        mailers = {
            (changes, fmt): Rss2Email(
                tmp / f"r2e-{changes}-{fmt}", urls[fmt], reply_changes=changes
            )
            for changes in (False, True)
            for fmt in ("rss", "atom")
        }
        result = Walk(system.url)
        markers = ("K-POP 콘서트", "일정 변경", "[철회]")
        served: dict[str, bytes] = {}
        for step, event, marker in zip(STEPS, _events(), markers, strict=True):
            assert system.publish(event).status_code == 202
            served = wait_for(
                lambda m=marker, b=served: _rendered(system, m, b), 60, f"the {step} feeds"
            )
            for fmt, newsboat in newsboats.items():
                newsboat.refresh()
                result.newsboat[(fmt, step)] = newsboat.items()
            reader.update_feeds(scheduled=False)
            result.reader[step] = {e.feed_url.rsplit("/", 1)[1]: e for e in reader.get_entries()}
            for key, mailer in mailers.items():
                result.mails[(*key, step)] = mailer.refresh()  # type: ignore[index]
            result.parsed[step] = {
                fmt: feedparser.parse(system.get(path).content) for fmt, path in FORMATS.items()
            }
            result.page[step] = system.get(f"/releases/{NUMBER}").status_code
        reader.close()
        yield result
    except Exception:
        print(system.log_tail())
        raise
    finally:
        system.stop()
        reset_database(redis_url, root.RUN_ID)


needs_newsboat = pytest.mark.skipif(
    NEWSBOAT is None, reason="newsboat is not installed (Debian: apt-get install newsboat)"
)


@needs_newsboat
@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_newsboat_shows_one_entry_that_becomes_the_notice(walk: Walk, fmt: str) -> None:
    held = {step: [i for i in walk.newsboat[(fmt, step)] if not i.deleted] for step in STEPS}
    # One item, under one id, through every step: the date correction made no second one.
    assert [[i.guid for i in held[step]] for step in STEPS] == [[ID]] * 3
    first, updated, retracted = (held[step][0] for step in STEPS)
    # The same characters feedparser gives: 〈 〉 in RSS, the title as typed in Atom.
    assert first.title == (TITLE_SHOWN if fmt == "rss" else TITLE)
    assert first.title == walk.parsed["published"][fmt].entries[0].title
    assert updated.title == walk.parsed["updated"][fmt].entries[0].title
    assert updated.title.endswith(" (일정 변경)")
    assert retracted.title.startswith("[철회] ") and REASON in retracted.content
    assert "공연안내" not in retracted.content and not retracted.enclosure


def test_reader_holds_one_entry_per_feed_and_shows_the_notice(walk: Walk) -> None:
    for name in ("rss.xml", "atom.xml", "feed.json"):
        entries = {step: walk.reader[step].get(name) for step in STEPS}
        assert all(e is not None and e.id == ID for e in entries.values()), name
        assert entries["published"].title == (TITLE_SHOWN if name == "rss.xml" else TITLE)
        notice = entries["retracted"]
        assert notice.title.startswith("[철회] "), name
        text = (notice.summary or "") + "".join(c.value for c in notice.content)
        assert REASON in text and "공연안내" not in text and not notice.enclosures, name


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_rss2email_mails_a_changed_content_only_with_reply_changes(walk: Walk, fmt: str) -> None:
    """rss2email mails an entry once. With ``reply-changes = True`` it mails again, as a
    reply, when the entry's *content* changes; a new title alone is not a change to it."""
    shown = TITLE_SHOWN if fmt == "rss" else TITLE
    for changes in (False, True):
        mails = {step: walk.mails[(changes, fmt, step)] for step in STEPS}
        (first,) = mails["published"]
        assert str(first["Subject"]) == shown
        assert mails["updated"] == []  # the title and date changed, the content did not
        if not changes:
            assert mails["retracted"] == []  # the subscriber never hears of the retraction
            continue
        (notice,) = mails["retracted"]
        assert str(notice["Subject"]) == f"[철회] {shown} (일정 변경)"
        assert notice["In-Reply-To"] == first["Message-ID"]
        assert REASON in notice.get_body(("plain", "html")).get_content()


def test_feedparser_sees_one_id_and_the_notice_in_every_format(walk: Walk) -> None:
    for step in STEPS:
        for fmt, parsed in walk.parsed[step].items():
            if fmt == "json":
                continue  # feedparser 6 does not read JSON Feed; reader did above
            assert not parsed.bozo, (step, fmt, parsed.get("bozo_exception"))
            (entry,) = [e for e in parsed.entries if e.id.endswith(f"/{NUMBER}")]
            assert entry.id == ID
            assert entry.title_detail.type == "text/plain"
    notice = walk.parsed["retracted"]["atom"].entries[0]
    assert notice.title.startswith("[철회] ")


def test_the_release_page_keeps_its_url(walk: Walk) -> None:
    assert walk.page == dict.fromkeys(STEPS, 200)

"""The releases that once froze the feeds, sent over HTTP to the whole running system.

Each was signed, schema-valid and answered 202, then broke every later publish (some of
them for good). Now each is refused with a 422 naming the field, or accepted and
rendered; either way, the ordinary publish after it reaches the feed.
"""

from __future__ import annotations

from typing import Any

import feedparser

from tests.factories import make_event
from tests.system import RunningSystem, run_cli, wait_for

# (what the CMS sent, the field it breaks, the answer now)
ROWS: list[tuple[str, dict[str, Any], str, int]] = [
    ("a title made only of control characters", {"title": "\u0000"}, "release.title", 422),
    (
        "a link that cannot become a URI",
        {"body_html": '<p><a href="http://ä..com/">링크</a> 본문</p>'},
        "",
        202,
    ),
    ("U+FFFF in license", {"license": "KOGL-1\uffff"}, "", 202),
    ("U+FFFE in a department", {"department": "위생정책과\ufffe"}, "", 202),
    ("U+FFFF in a category", {"categories": ["경제\uffff", "\ufffe복지"]}, "", 202),
    (
        "a publication date in year 9999",
        {"published_at": "9999-12-31T20:00:00+00:00", "updated_at": "9999-12-31T20:00:00+00:00"},
        "release.published_at",
        422,
    ),
]


def feed_numbers(system: RunningSystem, path: str = "/feeds/rss.xml") -> set[int]:
    answer = system.get(path)
    if answer.status_code != 200:
        return set()
    parsed = feedparser.parse(answer.content)
    assert not parsed.bozo, parsed.bozo_exception
    return {int(entry.id.rsplit("/", 1)[1]) for entry in parsed.entries}


def when(n: int) -> str:
    return f"2024-03-{n:02d}T09:00:00+09:00"


def test_hostile_releases_never_stop_the_feeds(system: RunningSystem):
    accepted = set()
    for number, (case, fields, field, status) in enumerate(ROWS, start=1):
        hostile_id, ordinary_id = 100 + number, 200 + number
        timing = {"published_at": when(number), "updated_at": when(number)}
        answer = system.publish(make_event(hostile_id, **{**timing, **fields}))
        assert answer.status_code == status, (case, answer.text)
        if status == 422:
            problem = answer.json()
            assert field in [e["field"] for e in problem["errors"]], (case, problem)
        else:
            accepted.add(hostile_id)
        ordinary = make_event(ordinary_id, published_at=when(number + 10))
        assert system.publish(ordinary).status_code == 202
        wait_for(
            lambda ordinary_id=ordinary_id: ordinary_id in feed_numbers(system),
            what=f"the publish after {case!r} in rss.xml",
        )
    # Accepted means renderable: every accepted hostile release is in the feed too.
    assert accepted <= feed_numbers(system)
    # The correcting update of a once-permanent case renders as well.
    fix = make_event(104, type="release.updated", title="고친 제목", department="위생정책과")
    fix["release"].update(published_at=when(4), updated_at=when(5))
    assert system.publish(fix).status_code == 202
    wait_for(lambda: "고친 제목" in system.get("/feeds/rss.xml").text, what="the corrected release")
    for path in ("/feeds/atom.xml", "/feeds/feed.json", "/feeds/"):
        assert system.get(path).status_code == 200, path
    # And a full rebuild renders everything and exits 0.
    rebuilt = run_cli("rebuild-feeds", **system.env)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "Quarantined" not in rebuilt.stdout

"""Retractions reach every reader: a notice in place in every format, then an Atom tombstone."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from types import SimpleNamespace

import feedparser
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from syndicator.feeds.render.entries import (
    entry_from_release,
    notice_from_release,
    tombstone_from_release,
)
from syndicator.feeds.render.formats import render_atom, render_json, render_rss
from syndicator.feeds.render.model import KST, DocumentKind
from tests.unit.feeds.render.support import DOMAIN, ORG, document, entry, release

PUBLISHED = datetime(2024, 3, 5, 9, 0, tzinfo=KST)
RETRACTED = datetime(2024, 3, 7, 15, 30, tzinfo=KST)
FILES = [
    {
        "filename": "보도자료.hwp",
        "url": "https://www.daegu.go.kr/files/5/a.hwp",
        "size": 48128,
        "media_type": "application/x-hwp",
    }
]


def _retracted(reason: str | None = "담당 부서 요청") -> SimpleNamespace:
    row = release(
        5,
        published_at=PUBLISHED.isoformat(),
        attachments=FILES,
        body_html="<p>원래 본문은 다시 나오면 안 됩니다.</p>",
    )
    row.retracted_at = RETRACTED
    row.updated_at = RETRACTED
    row.retraction_reason = reason
    return row


def _docs(reason: str | None = "담당 부서 요청") -> tuple:
    row = _retracted(reason)
    notice = notice_from_release(row, site_domain=DOMAIN, org_name=ORG)
    tombstone = tombstone_from_release(row, site_domain=DOMAIN)
    live = document((entry(4),), notices=(notice,), tombstones=(tombstone,))
    return live, notice, row


def test_rss_replaces_the_entry_in_place_with_a_notice() -> None:
    live, notice, row = _docs()
    original = entry_from_release(_retracted(), site_domain=DOMAIN)
    assert notice.id == original.id  # the same id: readers replace what they hold
    parsed = feedparser.parse(render_rss(live))
    assert not parsed.bozo
    (shown,) = [e for e in parsed.entries if e.id == original.id]
    assert shown.title == f"[철회] {row.title}"
    assert (
        "2024년 03월 07일 철회되었습니다" in shown.summary
        and "사유: 담당 부서 요청" in shown.summary
    )
    assert "원래 본문" not in shown.content[0].value
    assert not shown.get("enclosures")


def test_json_feed_replaces_the_item_with_a_new_modified_time() -> None:
    live, notice, _ = _docs()
    items = {item["id"]: item for item in json.loads(render_json(live))["items"]}
    item = items[notice.id]
    assert item["title"].startswith("[철회] ")
    assert item["date_modified"] == RETRACTED.isoformat()
    assert "attachments" not in item and "원래 본문" not in item["content_html"]


NS = {"a": "http://www.w3.org/2005/Atom", "at": "http://purl.org/atompub/tombstones/1.0"}


def test_live_atom_replaces_the_entry_in_place_with_a_notice() -> None:
    """Newsboat and `reader` ignore tombstones: Atom shows the notice under the same id."""
    live, notice, row = _docs()
    parsed = feedparser.parse(render_atom(live))
    assert not parsed.bozo
    (shown,) = [e for e in parsed.entries if e.id == notice.id]
    assert shown.title == f"[철회] {row.title}"
    assert shown.updated_parsed[:5] == RETRACTED.astimezone(KST).utctimetuple()[:5]
    assert "원래 본문" not in render_atom(live).decode()
    assert not [link for link in shown.links if link.rel == "enclosure"]
    # While the notice is shown, no tombstone contradicts it (RFC 6721: one of the two).
    root = etree.fromstring(render_atom(live))
    assert root.xpath("at:deleted-entry", namespaces=NS) == []


def test_live_atom_keeps_the_tombstone_once_the_notice_left() -> None:
    live, notice, _ = _docs()
    later = replace(live, notices=())
    root = etree.fromstring(render_atom(later))
    assert notice.id not in root.xpath("a:entry/a:id/text()", namespaces=NS)
    (deleted,) = root.xpath("at:deleted-entry", namespaces=NS)
    assert deleted.get("ref") == notice.id
    assert deleted.findtext("at:comment", namespaces=NS).endswith("사유: 담당 부서 요청")


def test_an_archive_keeps_the_notice_never_the_text() -> None:
    _, notice, _ = _docs(reason=None)
    archive = document((entry(4),), notices=(notice,), kind=DocumentKind.ARCHIVE)
    parsed = feedparser.parse(render_atom(archive))
    (shown,) = [e for e in parsed.entries if e.id == notice.id]
    assert shown.title.startswith("[철회] ") and "사유" not in shown.summary
    assert "원래 본문" not in render_atom(archive).decode()


@pytest.mark.slow
@given(st.text(max_size=300))
def test_any_reason_renders_in_every_format(reason: str) -> None:
    live, _, _ = _docs(reason)
    assert not feedparser.parse(render_rss(live)).bozo
    assert not feedparser.parse(render_atom(live)).bozo
    assert not feedparser.parse(render_atom(replace(live, notices=()))).bozo
    json.loads(render_json(live))


def test_the_notice_is_newer_than_what_readers_hold() -> None:
    row = _retracted()
    before = entry_from_release(release(5, published_at=PUBLISHED.isoformat()), site_domain=DOMAIN)
    notice = notice_from_release(row, site_domain=DOMAIN)
    assert notice.updated > before.updated and notice.updated - before.updated < timedelta(7)

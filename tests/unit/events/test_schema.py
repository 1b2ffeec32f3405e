"""The event schema: accepted means renderable, for anything a CMS can send.

The property test feeds generated hostile events straight to the schema and, whenever it
accepts one, to every renderer: the site, department and category documents in RSS,
Atom and JSON Feed, each read back by lxml and feedparser.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from pydantic import ValidationError

from syndicator.config import load_settings
from syndicator.events.json_input import parse_json
from syndicator.events.schema import CmsEvent
from syndicator.events.text import clean_text
from syndicator.feeds.documents import live_document, render_live
from syndicator.feeds.render.entries import entry_from_release, tombstone_from_release
from syndicator.feeds.scopes import SITE, Scope
from tests.factories import make_event
from tests.strategies import NASTY_CHARACTERS, event_documents, to_body

SETTINGS = load_settings(
    {"SYNDICATOR_DATA_DIR": "/nonexistent", "SYNDICATOR_BASE_URL": "https://press.example.kr"}
)
# Joiners are allowed between two visible characters; everything else cleaned away never is.
JOINERS = {"\u200c", "\u200d"}
FORBIDDEN = {c for c in "".join(NASTY_CHARACTERS) if clean_text(c) == ""} - JOINERS
STRAY_JOINER = re.compile(r"(?:^|[\s<>\"])[\u200c\u200d]|[\u200c\u200d](?:$|[\s<>\"])")


def stored(event: CmsEvent) -> SimpleNamespace:
    """The release as intake stores it: the JSON payload, times as datetimes."""
    data = event.release.model_dump(mode="json")
    data.update(
        url=str(event.release.url),
        published_at=event.release.published_at,
        first_published_at=event.release.published_at,
        updated_at=event.release.updated_at,
        retracted_at=event.release.updated_at if event.type == "release.retracted" else None,
        retraction_reason=event.reason,
        categories=list(event.release.categories),
    )
    return SimpleNamespace(**data)


def assert_renders(event: CmsEvent) -> None:
    row = stored(event)
    # What intake writes to the events table must encode as UTF-8 JSON.
    json.dumps(event.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")
    entries = (entry_from_release(row, site_domain="daegu.go.kr"),)
    tombstones = (tombstone_from_release(row, site_domain="daegu.go.kr"),)
    scopes = [SITE, Scope("department", "dept", row.department)]
    scopes += [Scope("category", f"c{i}", name) for i, name in enumerate(row.categories)]
    for scope in scopes:
        doc = live_document(SETTINGS, scope, entries, tombstones, None)
        rss, atom, feed_json = (out.data for out in render_live(scope, doc))
        for xml in (rss, atom):
            etree.fromstring(xml)
            parsed = feedparser.parse(xml)
            assert not parsed.bozo, parsed.get("bozo_exception")
            assert len(parsed.entries) == 1
        assert len(json.loads(feed_json)["items"]) == 1


@pytest.mark.slow
@given(event_documents())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_accepted_event_renders_in_all_three_formats(document: dict[str, Any]) -> None:
    try:
        event = CmsEvent.model_validate(document)
    except ValidationError as exc:
        # Every refusal names a field and a reason.
        assert all(err["loc"] and err["msg"] for err in exc.errors(include_url=False))
        return
    assert_renders(event)
    text = json.dumps(event.model_dump(mode="json"), ensure_ascii=False)
    assert not FORBIDDEN & set(text), "a character clean-up removes was stored"
    assert not STRAY_JOINER.search(text), "a joiner outside a word was stored"


@pytest.mark.slow
@given(event_documents(), st.booleans())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_wire_format_parses_or_fails_with_a_reason(document: dict, ascii_only: bool) -> None:
    """What the hook does with the bytes: parse_json, then the schema; never another error."""
    body = to_body(document, ascii_only)
    try:
        event = CmsEvent.model_validate(parse_json(body))
    except (ValueError, ValidationError):  # JsonInputError is a ValueError
        return
    assert_renders(event)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("title", "\u0000", "must not be empty after removing"),
        ("title", "\u200b \u202e", "must not be empty after removing"),
        ("title", "가" * 501, "at most 500"),
        ("department", "\ufffe", "must not be empty"),
        ("license", "\uffff", "must not be empty"),
        ("id", True, "valid integer"),
        ("id", "12", "valid integer"),
        ("id", 2**31, "less than or equal to 2147483647"),
        ("views", 2**63, "less than or equal to 2147483647"),
        ("published_at", "9999-12-31T20:00:00+00:00", "between 1900 and 2099"),
        ("published_at", "0001-01-01T00:00:00+09:00", "between 1900 and 2099"),
        ("published_at", 1666483200, "RFC 3339"),
        ("published_at", "2022-10-23", "RFC 3339"),
        ("categories", ["가" * 101], "at most 100"),
    ],
)
def test_hostile_fields_are_refused_naming_the_field(field: str, value: Any, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CmsEvent.model_validate(make_event(7, **{field: value}))
    errors = caught.value.errors(include_url=False)
    assert any(err["loc"][:2] == ("release", field) and reason in err["msg"] for err in errors), (
        errors
    )


def test_text_is_cleaned_before_it_is_bounded() -> None:
    """500 visible characters plus invisible ones fit; the bound counts what is stored."""
    event = CmsEvent.model_validate(make_event(7, title="가" * 500 + "\u200b\x00"))
    assert event.release.title == "가" * 500


def test_cleaning_keeps_joiners_inside_words_only() -> None:
    event = CmsEvent.model_validate(
        make_event(7, title="\u200d대구\u200c시 \u200d\u202e광역\u2066시\ufeff", department="과")
    )
    assert event.release.title == "대구\u200c시 광역시"


def test_links_that_cannot_become_uris_are_dropped_by_the_sanitiser() -> None:
    body = '<p><a href="http://ä..com/">깨진 링크</a> <a href="/files/자료.pdf">자료</a></p>'
    event = CmsEvent.model_validate(make_event(7, body_html=body))
    assert "ä..com" not in event.release.body_html
    assert 'href="/files/자료.pdf"' in event.release.body_html
    assert "깨진 링크" in event.release.body_html
    assert_renders(event)


def test_empty_category_names_are_dropped_not_stored() -> None:
    event = CmsEvent.model_validate(make_event(7, categories=["\u200b", "경제", " 경제 "]))
    assert event.release.categories == ["경제"]

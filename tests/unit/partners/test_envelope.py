"""The envelope partners receive (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from syndicator.events.schema import CmsEvent
from syndicator.partners.envelope import build_envelope, envelope_body
from tests.factories import make_event

WHEN = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)


def payload(type: str = "release.published", **release: object) -> dict:
    return CmsEvent.model_validate(make_event(7, type, **release)).model_dump(mode="json")


def test_the_envelope_is_versioned_and_carries_the_release():
    envelope = build_envelope("evt_1", "release.published", WHEN, payload(), "https://press.kr")
    assert envelope["type"] == "release.published" and envelope["id"] == "evt_1"
    assert envelope["timestamp"] == "2026-11-28T09:00:00Z" and envelope["version"] == 1
    release = envelope["data"]["release"]
    assert release["id"] == 7 and release["title"].startswith("대구")


def test_urls_are_absolute_even_when_the_cms_sent_a_path():
    data = payload()
    data["release"]["url"] = "/news/7"
    data["release"]["attachments"][0]["url"] = "files/7.hwp"
    release = build_envelope("e", "release.updated", WHEN, data, "https://press.kr/")["data"][
        "release"
    ]
    assert release["url"] == "https://press.kr/news/7"
    assert release["attachments"][0]["url"] == "https://press.kr/files/7.hwp"


def test_a_retraction_carries_only_what_identifies_the_release():
    release = build_envelope(
        "e", "release.retracted", WHEN, payload("release.retracted"), "https://press.kr"
    )["data"]["release"]
    assert set(release) <= {"id", "url", "department", "categories", "published_at", "updated_at"}
    assert "title" not in release and "body_html" not in release


def test_the_body_is_compact_utf8_json():
    body = envelope_body("e", "release.published", WHEN, payload(), "https://press.kr")
    assert "대구".encode() in body and b": " not in body[:50]
    assert json.loads(body)["id"] == "e"


def test_unknown_types_have_no_envelope():
    with pytest.raises(ValueError):
        build_envelope("e", "release.exploded", WHEN, payload(), "https://press.kr")

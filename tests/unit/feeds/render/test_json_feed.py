"""JSON Feed 1.1: validated against a JSON Schema of the spec plus the rules a schema can't say."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from syndicator.feeds.render.formats import JSON_FEED_VERSION, render_json
from syndicator.feeds.render.model import FormatUrls
from tests.unit.feeds.render.support import BASE, DOMAIN, document, entry

SCHEMA = json.loads(
    (Path(__file__).parents[3] / "schemas" / "jsonfeed-1.1.schema.json").read_text("utf-8")
)
FILES = [
    {
        "filename": "보도자료.hwp",
        "url": "https://www.daegu.go.kr/files/1/보도자료.hwp",
        "size": 100,
        "media_type": "application/x-hwp",
    },
    {
        "filename": "크기 모름.pdf",
        "url": "https://www.daegu.go.kr/files/1/크기 모름.pdf",
        "size": None,
        "media_type": "application/pdf",
    },
]


def _feed(**changes: Any) -> dict[str, Any]:
    entries = (
        entry(1, attachments=FILES, published_at="2024-05-01T09:00:00+09:00"),
        entry(2, attachments=[], categories=[], published_at="2024-05-02T09:00:00+09:00"),
    )
    feed: dict[str, Any] = json.loads(render_json(document(entries, **changes)))
    return feed


def test_valid_against_the_json_feed_schema() -> None:
    feed = _feed(hub_url="https://hub.example.kr/", prev_archive=f"{BASE}/feeds/archive/a.xml")
    Draft202012Validator(SCHEMA).validate(feed)


def test_the_schema_is_not_vacuous() -> None:
    feed = _feed()
    del feed["items"][0]["content_html"]
    feed["items"][1]["id"] = 2
    feed["items"][1]["attachments"][0].pop("mime_type")
    feed["items"][0]["date_published"] = "2024-05-01 09:00"
    feed["itmes"] = []
    errors = list(Draft202012Validator(SCHEMA).iter_errors(feed))
    assert len(errors) >= 5


def test_version_ids_dates_and_korean_text() -> None:
    feed = _feed()
    assert feed["version"] == JSON_FEED_VERSION
    assert feed["title"] == "대구광역시 보도자료"
    assert feed["language"] == "ko"
    assert feed["feed_url"] == f"{BASE}/feeds/feed.json"
    first, second = feed["items"]
    assert first["id"] == f"tag:{DOMAIN},2024:press/2"  # newest first
    assert isinstance(first["id"], str)
    for item in feed["items"]:
        for key in ("date_published", "date_modified"):
            parsed = datetime.fromisoformat(item[key])
            assert parsed.utcoffset() is not None and item[key].endswith("+09:00")
        assert item["content_html"]
        assert item["authors"] == [{"name": "대구광역시 위생정책과"}]
        assert item["_rights"] == {"license": "공공누리 제1유형: 출처표시"}
    assert second["tags"] == ["경제", "보건"]
    assert "tags" not in first


def test_attachments_have_url_mime_type_and_size_when_known() -> None:
    attachments = _feed()["items"][1]["attachments"]
    assert attachments == [
        {
            "url": "https://www.daegu.go.kr/files/1/%EB%B3%B4%EB%8F%84%EC%9E%90%EB%A3%8C.hwp",
            "mime_type": "application/x-hwp",
            "title": "보도자료.hwp",
            "size_in_bytes": 100,
        },
        {
            "url": "https://www.daegu.go.kr/files/1/%ED%81%AC%EA%B8%B0%20%EB%AA%A8%EB%A6%84.pdf",
            "mime_type": "application/pdf",
            "title": "크기 모름.pdf",
        },
    ]


def test_hub_and_archive_links_use_the_extension_mechanism() -> None:
    feed = _feed(hub_url="https://hub.example.kr/", prev_archive=f"{BASE}/feeds/archive/a.xml")
    assert feed["hubs"] == [{"type": "WebSub", "url": "https://hub.example.kr/"}]
    assert feed["_rfc5005"] == {"prev-archive": f"{BASE}/feeds/archive/a.xml"}
    assert "_rfc5005" not in _feed() and "hubs" not in _feed()


def test_deterministic_bytes() -> None:
    assert json.dumps(_feed()) == json.dumps(_feed())


def test_documents_without_json_are_refused() -> None:
    with pytest.raises(ValueError):
        render_json(document((), self_urls=FormatUrls(atom=f"{BASE}/feeds/archive/x.xml")))

"""The event catalog: every event type a partner can receive, its JSON Schema and an
example (pure).

The schemas are generated from the pydantic models below, whose ``release`` is the CMS
contract's own :class:`~syndicator.events.schema.Release`, and the examples are made by
the envelope builder itself (partners/envelope.py), so neither can drift from what is
sent: the tests validate every envelope they receive against these schemas. A schema's
``$id`` names the envelope version it describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from syndicator.events.schema import Release
from syndicator.partners.envelope import (
    ENVELOPE_VERSION,
    RETRACTED_FIELDS,
    TEST_EVENT_TYPE,
    build_envelope,
    build_test_envelope,
)

__all__ = [
    "CATALOG",
    "JSON_SCHEMA_DIALECT",
    "EventTypeEntry",
    "example",
    "json_schema",
    "schema_id",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class RetractedRelease(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    url: str
    department: str
    categories: list[str] = []
    published_at: datetime
    updated_at: datetime


class ReleaseData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    release: Release


class RetractedData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    release: RetractedRelease


class TestPartner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    name: str


class TestData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partner: TestPartner = Field(description="The partner the test was sent to.")
    message: str


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The event id; the same event reaches every partner.")
    timestamp: datetime = Field(description="When syndicator received the event (UTC).")
    version: Literal[1] = Field(description="Envelope schema version; changes only incompatibly.")


class PublishedEnvelope(_Envelope):
    type: Literal["release.published"]
    data: ReleaseData


class UpdatedEnvelope(_Envelope):
    type: Literal["release.updated"]
    data: ReleaseData


class RetractedEnvelope(_Envelope):
    type: Literal["release.retracted"]
    data: RetractedData


class PartnerTestEnvelope(_Envelope):
    type: Literal["partner.test"]
    data: TestData


@dataclass(frozen=True)
class EventTypeEntry:
    name: str
    summary: str
    description: str
    model: type[_Envelope]


CATALOG: dict[str, EventTypeEntry] = {
    entry.name: entry
    for entry in (
        EventTypeEntry(
            "release.published",
            "A release was published",
            "The whole release, with absolute release and attachment URLs.",
            PublishedEnvelope,
        ),
        EventTypeEntry(
            "release.updated",
            "A release changed",
            "The whole release as it is now.",
            UpdatedEnvelope,
        ),
        EventTypeEntry(
            "release.retracted",
            "A release was withdrawn",
            "Only what identifies the release: remove it from your site. Its title and "
            "body were withdrawn and are not spread again.",
            RetractedEnvelope,
        ),
        EventTypeEntry(
            TEST_EVENT_TYPE,
            "A test event",
            "Sent on request to check an endpoint and its signature verification; it "
            "carries no release.",
            PartnerTestEnvelope,
        ),
    )
}
# The documented retraction is the one the envelope builder makes.
assert set(RetractedRelease.model_fields) == set(RETRACTED_FIELDS)


def schema_id(event_type: str) -> str:
    return f"urn:syndicator:event-type:{event_type}:v{ENVELOPE_VERSION}"


@cache
def json_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one event type's envelope, as serialised and sent.
    Raises ``KeyError`` for a type not in the catalog."""
    entry = CATALOG[event_type]
    schema = entry.model.model_json_schema(mode="serialization")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_id(event_type),
        **schema,
        "title": event_type,
        "description": entry.description,
    }


_EXAMPLE_WHEN = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
_EXAMPLE_BASE = "https://news.daegu.go.kr"
_EXAMPLE_RELEASE = Release.model_validate(
    {
        "id": 4521,
        "title": "대구시, 2027년 시민 안전 종합계획 발표",
        "subtitle": "재난 대응 훈련을 연 4회로 늘립니다",
        "summary": "대구시는 시민 안전을 위한 종합계획을 발표했다.",
        "body_html": "<p>대구시는 28일 <strong>2027년 시민 안전 종합계획</strong>을 발표했다.</p>",
        "department": "시민안전실",
        "contact": {"name": "김민지", "phone": "053-803-0000"},
        "categories": ["안전", "재난"],
        "url": "https://news.daegu.go.kr/news/4521",
        "published_at": "2026-11-28T09:00:00+09:00",
        "updated_at": "2026-11-28T09:00:00+09:00",
        "attachments": [
            {
                "filename": "안전계획.pdf",
                "url": "https://news.daegu.go.kr/files/4521/plan.pdf",
                "size": 482133,
                "media_type": "application/pdf",
            }
        ],
    }
).model_dump(mode="json")


@cache
def example(event_type: str) -> dict[str, Any]:
    """An envelope as a partner receives it, made by the envelope builder."""
    if event_type == TEST_EVENT_TYPE:
        return build_test_envelope("evt_example", _EXAMPLE_WHEN, 7, "연합뉴스")
    if event_type not in CATALOG:
        raise KeyError(event_type)
    payload = {"type": event_type, "release": _EXAMPLE_RELEASE}
    return build_envelope("evt_example", event_type, _EXAMPLE_WHEN, payload, _EXAMPLE_BASE)

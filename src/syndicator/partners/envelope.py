"""What a partner receives: a versioned JSON envelope around the release (pure).

::

    {"type": "release.published", "id": "evt_…", "timestamp": "2026-11-28T09:00:00Z",
     "version": 1, "data": {"release": {…, "url": "https://…", "attachments": […]}}}

``version`` changes only when the shape changes incompatibly; fields may be added within a
version. Every URL is absolute. A retraction carries only what identifies the release:
its title and body were withdrawn and are not spread again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

__all__ = [
    "ENVELOPE_VERSION",
    "EVENT_TYPES",
    "RETRACTED_FIELDS",
    "TEST_EVENT_TYPE",
    "build_envelope",
    "build_test_envelope",
    "encode",
    "envelope_body",
]

ENVELOPE_VERSION = 1
EVENT_TYPES = ("release.published", "release.updated", "release.retracted")
# Sent on request to one partner, never planned from a CMS event.
TEST_EVENT_TYPE = "partner.test"
# What a retraction still says about the release it withdraws.
RETRACTED_FIELDS = ("id", "url", "department", "categories", "published_at", "updated_at")


def _absolute(base_url: str, url: object) -> object:
    if not isinstance(url, str) or not url:
        return url
    return urljoin(base_url.rstrip("/") + "/", url)


def _release(base_url: str, release: Mapping[str, Any], retracted: bool) -> dict[str, Any]:
    data = dict(release)
    if retracted:
        data = {key: data[key] for key in RETRACTED_FIELDS if key in data}
    else:
        data["attachments"] = [
            {**attachment, "url": _absolute(base_url, attachment.get("url"))}
            for attachment in data.get("attachments") or []
        ]
    data["url"] = _absolute(base_url, data.get("url"))
    return data


def _timestamp(when: datetime) -> str:
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_envelope(
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    payload: Mapping[str, Any],
    base_url: str,
) -> dict[str, Any]:
    """The envelope for one event; ``payload`` is the stored CMS event (``release`` inside)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"no webhook envelope for event type {event_type!r}")
    release = _release(base_url, payload["release"], event_type == "release.retracted")
    return {
        "type": event_type,
        "id": event_id,
        "timestamp": _timestamp(occurred_at),
        "version": ENVELOPE_VERSION,
        "data": {"release": release},
    }


def build_test_envelope(
    event_id: str, occurred_at: datetime, partner_id: int, partner_name: str
) -> dict[str, Any]:
    """A ``partner.test`` envelope: no release, only whom it was sent to."""
    return {
        "type": TEST_EVENT_TYPE,
        "id": event_id,
        "timestamp": _timestamp(occurred_at),
        "version": ENVELOPE_VERSION,
        "data": {
            "partner": {"id": partner_id, "name": partner_name},
            "message": "A test event from syndicator: verify its signature and answer 2xx.",
        },
    }


def encode(envelope: Mapping[str, Any]) -> bytes:
    """The exact bytes sent and signed: compact UTF-8 JSON (Korean stays readable)."""
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def envelope_body(
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    payload: Mapping[str, Any],
    base_url: str,
) -> bytes:
    return encode(build_envelope(event_id, event_type, occurred_at, payload, base_url))

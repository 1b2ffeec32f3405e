"""What every provider module shares: why a call is refused, and small readers of payloads.

A provider module is pure: it checks a call's credentials against the configured ones and
maps the payload to :class:`~syndicator.bounces.feedback.Feedback` or ``Ignored``. The web
route turns :class:`Unverified` into a 401 and :class:`Malformed` into a 400/422, each
naming the field that failed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "Forbidden",
    "Malformed",
    "Refused",
    "Unverified",
    "enhanced_status",
    "evidence",
    "field",
    "json_body",
    "optional_text",
]

# The evidence kept with an event: enough to read the provider's verdict in the console.
EVIDENCE_CHARS = 4000
_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


class Refused(Exception):
    status = 400

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


class Unverified(Refused):
    """No credentials, or not the configured provider's: 401."""

    status = 401


class Forbidden(Refused):
    """Genuinely signed, but not for us (another account's SNS topic): 403."""

    status = 403


class Malformed(Refused):
    """Verified, but not the payload the provider documents: 422 (400 for bad JSON)."""

    status = 422


def json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        error = Malformed("(body)", f"not JSON: {exc}")
        error.status = 400
        raise error from exc


def field(document: Any, path: str, kind: type | tuple[type, ...] = str) -> Any:
    """``document[a][b]`` for ``path`` "a.b", of ``kind``; Malformed naming the path."""
    value = document
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise Malformed(path, "missing")
        value = value[part]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise Malformed(path, f"must be {names}")
    return value


def optional_text(document: Any, path: str) -> str | None:
    """Text at ``path`` if there, else None; a number is read as its text."""
    try:
        value = field(document, path, (str, int, float))
    except Malformed:
        return None
    return str(value).strip() or None


def enhanced_status(*texts: str | None) -> str | None:
    """The first RFC 3463 code (``5.1.1``) in ``texts``."""
    for text in texts:
        if text and (match := _ENHANCED.search(text)):
            return match.group(0)
    return None


def evidence(document: Any) -> str:
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 1] + "…"

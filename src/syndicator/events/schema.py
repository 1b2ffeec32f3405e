"""The CMS event contract: what ``POST /hooks/cms`` accepts.

Accepted means renderable. Text is cleaned first (NFC, no control, noncharacter, bidi
override or stray zero-width characters), then bounded, so a field that is empty after
clean-up is refused rather than stored empty. Numbers are JSON integers that fit the
database columns on SQLite and PostgreSQL, dates are RFC 3339 strings within
:data:`EARLIEST`..:data:`LATEST`, and ``body_html`` is sanitised once, so every channel
renders from clean data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    UrlConstraints,
    field_validator,
    model_validator,
)

from syndicator.events.text import clean_text, sanitize_html

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_DB_INT",
    "MAX_JSON_DEPTH",
    "Attachment",
    "CmsEvent",
    "Contact",
    "EventType",
    "Release",
]

# PostgreSQL's INTEGER, the narrowest column an id or a count lands in.
MAX_DB_INT = 2**31 - 1
# The largest integer every JSON reader (JavaScript's included) holds exactly.
MAX_JSON_INT = 2**53 - 1
# Well before any digital press release, and far enough ahead for any embargo; any date
# in range converts to every time zone and month arithmetic never leaves datetime's range.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# An event is four levels deep; anything far deeper is an attack, not a release.
MAX_JSON_DEPTH = 32

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)
# RFC 6838 type/subtype, optionally with parameters.
_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][\w!#$&^.+-]{0,126}/[A-Za-z0-9][\w!#$&^.+-]{0,126}(?:\s*;\s*[^;]{1,200}){0,8}",
    re.ASCII,
)


def _bounded(min_length: int, max_length: int) -> Callable[[str], str]:
    """Clean and strip a string, then bound it in characters."""

    def bounded(value: str) -> str:
        cleaned = clean_text(value).strip()
        if len(cleaned) < min_length:
            raise ValueError(
                "must not be empty"
                + (" after removing invisible and control characters" if value.strip() else "")
            )
        if len(cleaned) > max_length:
            raise ValueError(f"must be at most {max_length} characters, got {len(cleaned)}")
        return cleaned

    return bounded


Title = Annotated[StrictStr, AfterValidator(_bounded(1, 500))]
Name = Annotated[StrictStr, AfterValidator(_bounded(1, 200))]
Phone = Annotated[StrictStr, AfterValidator(_bounded(1, 50))]
Subtitle = Annotated[StrictStr, AfterValidator(_bounded(0, 1000))]
Summary = Annotated[StrictStr, AfterValidator(_bounded(0, 5000))]
CategoryName = Annotated[StrictStr, AfterValidator(_bounded(0, 100))]
LicenseCode = Annotated[StrictStr, AfterValidator(_bounded(1, 50))]
Reason = Annotated[StrictStr, AfterValidator(_bounded(0, 1000))]


def _rfc3339(value: object) -> object:
    if isinstance(value, datetime):  # built in code (tests, the demo loader), not parsed
        return value
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 date-time string, e.g. 2022-10-23T09:00:00+09:00")
    if not _RFC3339.fullmatch(value):
        raise ValueError(
            "must be an RFC 3339 date-time with seconds and an offset, "
            "e.g. 2022-10-23T09:00:00+09:00"
        )
    return value


def _in_range(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a timezone offset, e.g. +09:00")
    if not EARLIEST <= value < LATEST:
        raise ValueError(
            f"must be between {EARLIEST.year} and {LATEST.year - 1}, got year {value.year}"
        )
    return value


AwareDatetime = Annotated[datetime, BeforeValidator(_rfc3339), AfterValidator(_in_range)]
HttpLink = Annotated[AnyHttpUrl, UrlConstraints(max_length=2048)]
DbInt = Annotated[StrictInt, Field(ge=0, le=MAX_DB_INT)]


def _media_type(value: str) -> str:
    if not _MEDIA_TYPE.fullmatch(value):
        raise ValueError("must be a media type such as application/pdf")
    return value.lower()


class EventType(StrEnum):
    PUBLISHED = "release.published"
    UPDATED = "release.updated"
    RETRACTED = "release.retracted"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Strict):
    name: Name | None = None
    phone: Phone | None = None


class Attachment(_Strict):
    filename: Title
    url: HttpLink
    # Optional because the board sometimes lacks it; feeds then omit the length.
    size: Annotated[StrictInt, Field(ge=0, le=MAX_JSON_INT)] | None = None
    media_type: Annotated[Name, AfterValidator(_media_type)] = "application/octet-stream"


class Release(_Strict):
    id: Annotated[StrictInt, Field(gt=0, le=MAX_DB_INT)]
    title: Title
    subtitle: Subtitle | None = None
    summary: Summary | None = None
    body_html: Annotated[StrictStr, Field(max_length=900_000)] = ""
    department: Name
    contact: Contact | None = None
    categories: list[CategoryName] = Field(default_factory=list, max_length=20)
    url: HttpLink
    published_at: AwareDatetime
    updated_at: AwareDatetime
    attachments: list[Attachment] = Field(default_factory=list, max_length=50)
    license: LicenseCode = "KOGL-1"
    views: DbInt | None = None

    @field_validator("subtitle", "summary")
    @classmethod
    def _empty_is_absent(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("body_html")
    @classmethod
    def _sanitize(cls, value: str) -> str:
        return sanitize_html(value)

    @field_validator("categories")
    @classmethod
    def _distinct_categories(cls, value: list[str]) -> list[str]:
        # Names that clean up to nothing are dropped, not stored as an empty category.
        return list(dict.fromkeys(name for name in value if name))

    @model_validator(mode="after")
    def _updated_not_before_published(self) -> Release:
        if self.updated_at < self.published_at:
            raise ValueError("updated_at must not be earlier than published_at")
        return self


class CmsEvent(_Strict):
    type: EventType
    release: Release
    significant: StrictBool = Field(
        default=False,
        description=(
            "For release.updated: true when the correction matters enough to email "
            "subscribers again (immediate mode, and the next digest). Ignored otherwise."
        ),
    )
    reason: Reason | None = Field(
        default=None,
        description=(
            'For release.retracted only: why, in a sentence ("담당 부서 요청으로 철회"). '
            "Feeds show it in the retraction notice and the Atom tombstone's comment."
        ),
    )

    @model_validator(mode="after")
    def _reason_only_for_retractions(self) -> CmsEvent:
        if self.reason and self.type is not EventType.RETRACTED:
            raise ValueError("reason is only for release.retracted")
        return self

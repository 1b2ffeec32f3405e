"""The CMS event contract: what ``POST /hooks/cms`` accepts.

Validation normalises text on the way in (NFC, no control characters) and
sanitises ``body_html`` once, so every channel renders from clean data.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from syndicator.text import clean_text, sanitize_html

__all__ = ["Attachment", "CmsEvent", "Contact", "EventType", "Release"]

CleanStr = Annotated[str, AfterValidator(clean_text)]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a timezone offset, e.g. +09:00")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


class EventType(StrEnum):
    PUBLISHED = "release.published"
    UPDATED = "release.updated"
    RETRACTED = "release.retracted"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Contact(_Strict):
    name: CleanStr | None = Field(default=None, max_length=200)
    phone: CleanStr | None = Field(default=None, max_length=50)


class Attachment(_Strict):
    filename: CleanStr = Field(min_length=1, max_length=500)
    url: AnyHttpUrl
    # Optional because the board sometimes lacks it; feeds then omit the length.
    size: int | None = Field(default=None, ge=0)
    media_type: CleanStr = Field(default="application/octet-stream", max_length=200)


class Release(_Strict):
    id: int = Field(gt=0)
    title: CleanStr = Field(min_length=1, max_length=500)
    subtitle: CleanStr | None = Field(default=None, max_length=1000)
    summary: CleanStr | None = Field(default=None, max_length=5000)
    body_html: str = Field(default="", max_length=900_000)
    department: CleanStr = Field(min_length=1, max_length=200)
    contact: Contact | None = None
    categories: list[CleanStr] = Field(default_factory=list, max_length=20)
    url: AnyHttpUrl
    published_at: AwareDatetime
    updated_at: AwareDatetime
    attachments: list[Attachment] = Field(default_factory=list, max_length=50)
    license: CleanStr = Field(default="KOGL-1", max_length=50)
    views: int | None = Field(default=None, ge=0)

    @field_validator("body_html")
    @classmethod
    def _sanitize(cls, value: str) -> str:
        return sanitize_html(value)

    @field_validator("categories")
    @classmethod
    def _distinct_categories(cls, value: list[str]) -> list[str]:
        seen: dict[str, None] = {}
        for name in value:
            if name:
                seen.setdefault(name, None)
        return list(seen)

    @model_validator(mode="after")
    def _updated_not_before_published(self) -> Release:
        if self.updated_at < self.published_at:
            raise ValueError("updated_at must not be earlier than published_at")
        return self


class CmsEvent(_Strict):
    type: EventType
    release: Release

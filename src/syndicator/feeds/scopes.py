"""What a feed is about: the whole site, one department, or one category; and KST months."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from syndicator.feeds.render.model import KST

__all__ = ["SITE", "Month", "Scope", "ScopeKind"]

ScopeKind = Literal["site", "department", "category"]


@dataclass(frozen=True, order=True)
class Scope:
    kind: ScopeKind
    slug: str = ""
    # The display name follows the slug; two scopes are the same feed whatever it says.
    name: str = field(default="", compare=False)


SITE = Scope("site")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in KST: the unit of one archive document."""

    year: int
    month: int

    @classmethod
    def of(cls, when: datetime) -> Month:
        local = when.astimezone(KST)
        return cls(local.year, local.month)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=KST).astimezone(UTC)

    @property
    def end(self) -> datetime:
        following = Month(self.year + self.month // 12, self.month % 12 + 1)
        return following.start

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

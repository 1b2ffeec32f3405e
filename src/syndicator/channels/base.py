"""The one small interface every channel implements.

A channel never sees Celery, retries or the ledger: it says which targets an
event needs (``plan``) and tries to deliver a batch of claimed rows
(``deliver``), classifying each failure once as retryable or permanent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import httpx

from syndicator.config import Settings
from syndicator.store.db import Database
from syndicator.store.ledger import Claimed

__all__ = [
    "Channel",
    "ChannelContext",
    "DeliveryOutcome",
    "DeliveryReport",
    "EventRecord",
    "FollowUp",
]


@dataclass(frozen=True)
class EventRecord:
    id: str
    type: str
    release_id: int
    source: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class DeliveryOutcome:
    delivery_id: int
    ok: bool
    retryable: bool = True
    error_class: str | None = None
    detail: str | None = None
    duration_ms: float | None = None
    # A receiver's Retry-After, honoured by the retry planner when set.
    retry_after: float | None = None


@dataclass(frozen=True)
class FollowUp:
    """Deliveries another channel must make because this one succeeded."""

    channel: str
    event_id: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class DeliveryReport:
    outcomes: list[DeliveryOutcome]
    follow_ups: list[FollowUp] = field(default_factory=list)


@dataclass(frozen=True)
class ChannelContext:
    settings: Settings
    db: Database
    http: httpx.Client


class Channel(Protocol):
    name: ClassVar[str]
    queue: ClassVar[str]
    # Coalescing channels take every due row at once under one lock (feeds:
    # a burst of publishes becomes a handful of renders).
    coalesce: ClassVar[bool]
    # Coalescing channels run at most once per this many seconds.
    min_interval: ClassVar[float]
    # Delays before retries 2, 3, ...; the attempt after the last one is final.
    retry_delays: ClassVar[tuple[float, ...]]

    def __init__(self, ctx: ChannelContext) -> None: ...

    def plan(self, event: EventRecord) -> Sequence[str]: ...

    def deliver(self, jobs: Sequence[Claimed]) -> DeliveryReport: ...

"""What every request handler shares: built once per process by the app factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import redis

from syndicator.config import Settings
from syndicator.store.db import Database
from syndicator.store.models import utcnow

__all__ = ["AppState"]


@dataclass
class AppState:
    settings: Settings
    db: Database
    redis: redis.Redis
    # The time, for rules that depend on it (console sessions); tests turn it forward.
    clock: Callable[[], datetime] = field(default=utcnow)

"""What every request handler shares: built once per process by the app factory."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from syndicator.config import Settings
from syndicator.store.db import Database

__all__ = ["AppState"]


@dataclass
class AppState:
    settings: Settings
    db: Database
    redis: redis.Redis

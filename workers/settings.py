"""The settings of a worker or beat process: read from the environment once, when the
Celery app is imported, and handed to everything the process builds (the app's broker
options, the signal handlers, each task's runtime). Prefork children inherit them."""

from __future__ import annotations

from syndicator.config import load_settings

__all__ = ["settings"]

settings = load_settings()

"""The command lines of Celery's roles on this project's app: what `syndicator run` starts
as children and what `syndicator worker` and `syndicator beat` become. Celery itself is
imported only in ``workers/``; these run it as ``python -m celery``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["CELERY_APP", "beat_command", "worker_command"]

CELERY_APP = "workers.app"


def _celery(role: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", CELERY_APP, role, "--loglevel", "INFO", *args]


def worker_command(
    queues: Sequence[str], concurrency: int | None = None, extra: Sequence[str] = ()
) -> list[str]:
    """A worker on ``queues``; Celery takes the last ``--loglevel``, so ``extra`` may set it."""
    sized = ["--concurrency", str(concurrency)] if concurrency else []
    return _celery("worker", "-Q", ",".join(queues), *sized, *extra)


def beat_command(extra: Sequence[str] = ()) -> list[str]:
    return _celery("beat", *extra)

"""One log format for every process: readable ``key=value`` lines, or JSON lines.

Lines say what happened with ids as fields (``kv(msg=..., event_id=...)``). Set
``SYNDICATOR_LOG_FORMAT=json`` for one JSON object per line, with those fields as keys, for a
log shipper. Celery's worker and beat log through the same handler (workers/lifecycle.py
connects ``setup_logging``), and so does uvicorn.

Quiet by default: Celery announces every task it receives and finishes, and beat every task
it sends. With a heartbeat and a sweeper running every few seconds that is a screenful a
minute of nothing happening, and our own lines ("event planned", "delivery attempt") already
say what each task did. Those announcements are DEBUG here; a task that fails still logs an
error. ``SYNDICATOR_LOG_LEVEL=DEBUG`` shows them again.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

__all__ = ["ROUTINE_LOGGERS", "KeyValues", "configure_logging", "kv"]

# Loggers whose INFO lines are routine announcements, demoted to DEBUG.
ROUTINE_LOGGERS = frozenset({"celery.app.trace", "celery.worker.strategy", "celery.beat"})
# Record attributes a filter may add (workers add the Celery task id), shown when present.
CONTEXT_FIELDS = ("task_id",)


class KeyValues(str):
    """A ``key=value`` line that remembers its fields, so JSON output keeps them as keys."""

    fields: dict[str, object]

    def __new__(cls, fields: dict[str, object]) -> KeyValues:
        line = super().__new__(cls, " ".join(_pair(k, v) for k, v in fields.items()))
        line.fields = fields
        return line


# A value that needs quotes: empty, or holding whitespace or a quote. One regex search is
# far cheaper than a per-character test, and every delivery attempt logs a line.
_NEEDS_QUOTES = re.compile(r'^$|[\s"]')


def _pair(key: str, value: object) -> str:
    text = str(value)
    if _NEEDS_QUOTES.search(text):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{key}={text}"


def kv(**fields: object) -> KeyValues:
    return KeyValues(fields)


class _QuietRoutine(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name in ROUTINE_LOGGERS and record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return record.levelno >= self.level


class _TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S%z")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = [_pair(f, getattr(record, f)) for f in CONTEXT_FIELDS if getattr(record, f, None)]
        return " ".join([line, *extra]) if extra else line


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        message = record.msg if isinstance(record.msg, KeyValues) and not record.args else None
        if message is not None:
            body.update({k: _jsonable(v) for k, v in message.fields.items()})
        else:
            body["msg"] = record.getMessage()
        for name in CONTEXT_FIELDS:
            if value := getattr(record, name, None):
                body[name] = value
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False, default=str)


def _jsonable(value: object) -> object:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def configure_logging(level: str = "INFO", fmt: str = "text") -> logging.Handler:
    """Send every logger to stdout in ``fmt`` (``text`` or ``json``); returns the handler,
    so a process may add filters to it (the Celery task id)."""
    threshold = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    handler.addFilter(_QuietRoutine(threshold))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # The root passes everything a logger lets through; the handler's filter decides, so a
    # demoted announcement is dropped rather than shown at its original level.
    root.setLevel(min(threshold, logging.INFO))
    return handler

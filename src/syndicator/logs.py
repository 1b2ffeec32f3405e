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

No line ever holds a subscriber's token: a confirm, preferences or unsubscribe link is
the key to that subscription, and uvicorn's access log prints every request's path.
:func:`redact_tokens` replaces the token in any path or URL (and any ``token=`` query
value) before a line is written, whichever logger wrote it. deploy/nginx does the same
for the front server's log.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "REDACTED",
    "ROUTINE_LOGGERS",
    "TOKEN_PATH_PREFIXES",
    "KeyValues",
    "configure_logging",
    "kv",
    "redact_tokens",
]

# Loggers whose INFO lines are routine announcements, demoted to DEBUG (flufl.bounce
# announces each of its 17 detectors for every returned mail it reads).
ROUTINE_LOGGERS = frozenset(
    {"celery.app.trace", "celery.worker.strategy", "celery.beat", "flufl.bounce"}
)
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


# Paths whose next segment is a subscriber token (subscriptions/tokens.py makes the links;
# a unit test holds the two lists together, and nginx.conf's map too).
TOKEN_PATH_PREFIXES = ("/subscriptions/confirm/", "/preferences/", "/unsubscribe/")
REDACTED = "[redacted]"
# Everything after a token route's prefix goes (a token path has nothing else in it, and
# "/preferences/./<token>" must not keep the token); a token= query value up to the next.
_TOKEN_IN_TEXT = re.compile(
    "(?P<keep>" + "|".join(re.escape(p) for p in TOKEN_PATH_PREFIXES) + r")[^?#\s\"']*"
    r"|(?P<query>[?&;]token=)[^&;#\s\"']*",
    re.IGNORECASE,
)


def redact_tokens(text: str) -> str:
    """``text`` with every token path segment and ``token=`` query value replaced."""
    if "/" not in text and "token=" not in text.lower():
        return text
    return _TOKEN_IN_TEXT.sub(lambda m: (m.group("keep") or m.group("query")) + REDACTED, text)


class _RedactTokens(logging.Filter):
    """Rewrites a record's plain-text message and arguments (uvicorn's access line is
    ``'%s - "%s %s HTTP/%s" %d'`` with the path as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if type(record.msg) is str:
            record.msg = redact_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_tokens(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


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
    handler.addFilter(_RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # The root passes everything a logger lets through; the handler's filter decides, so a
    # demoted announcement is dropped rather than shown at its original level.
    root.setLevel(min(threshold, logging.INFO))
    return handler

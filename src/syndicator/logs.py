"""Logging to stdout, one line per event and per delivery attempt, with ids as key=value."""

from __future__ import annotations

import logging
import sys

__all__ = ["configure_logging", "kv"]


def kv(**fields: object) -> str:
    parts = []
    for key, value in fields.items():
        text = str(value)
        if not text or any(c.isspace() for c in text) or '"' in text:
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)

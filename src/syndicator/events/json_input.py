"""Parsing untrusted JSON into plain values, with every failure a specific, catchable error.

``json.loads`` alone raises RecursionError on deep nesting and ValueError on integers of
more than 4,300 digits; neither is a JSONDecodeError, so a caller catching only that
answers 500.
"""

from __future__ import annotations

import json
from typing import Any

from syndicator.events.schema import MAX_JSON_DEPTH

__all__ = ["JsonInputError", "parse_json"]


class JsonInputError(ValueError):
    """The bytes are not a JSON document we are willing to read."""


def _depth(value: Any) -> int:
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def parse_json(data: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise JsonInputError(f"the body is not UTF-8 (byte {exc.start})") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonInputError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:
        raise JsonInputError(f"nested more than {max_depth} levels deep") from exc
    except ValueError as exc:  # an integer with more digits than Python will convert
        raise JsonInputError(f"a number is too long: {exc}") from exc
    if _depth(document) > max_depth:
        raise JsonInputError(f"nested more than {max_depth} levels deep")
    return document

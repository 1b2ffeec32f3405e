"""Every envelope a test partner receives is checked against the event catalog's JSON
Schema with the independent ``jsonschema`` (tests/integration/webhook_receiver.py)."""

from __future__ import annotations

import json
from functools import cache

from jsonschema import Draft202012Validator

from syndicator.partners.catalog import CATALOG, json_schema

__all__ = ["envelope_problem"]


@cache
def _validator(event_type: str) -> Draft202012Validator:
    return Draft202012Validator(json_schema(event_type))


def envelope_problem(body: bytes) -> str | None:
    """Why ``body`` is not an envelope of a catalogued type, or None if it is one."""
    try:
        envelope = json.loads(body)
    except ValueError as exc:
        return f"not JSON: {exc}"
    event_type = envelope.get("type") if isinstance(envelope, dict) else None
    if event_type not in CATALOG:
        return f"type {event_type!r} is not in the event catalog"
    errors = sorted(_validator(event_type).iter_errors(envelope), key=str)
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path)
        return f"{event_type} at /{where}: {errors[0].message}"
    return None

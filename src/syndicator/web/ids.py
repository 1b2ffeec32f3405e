"""Ids in paths and queries, bounded as the hook bounds them.

Every id lands in an INTEGER column (PostgreSQL's is 32 bits) and is bound by a database
driver that cannot carry an unbounded Python int (SQLite's stops at 64 bits): an id past
the column is a 422 naming the parameter, never a driver error and a 500. One bound for
every route, the CMS contract's :data:`~syndicator.events.schema.MAX_DB_INT`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query

from syndicator.events.schema import MAX_DB_INT

__all__ = [
    "MAX_ID",
    "DeliveryId",
    "PartnerId",
    "ReleaseId",
    "SubscriberId",
    "after_query",
    "id_query",
    "path_id",
    "whole_number",
]

MAX_ID = MAX_DB_INT


def path_id(what: str) -> Any:
    """A ``{…_id}`` path segment: 1 … :data:`MAX_ID`."""
    return Path(ge=1, le=MAX_ID, description=f"The {what}'s id.")


def id_query(description: str) -> Any:
    """An optional id in the query string: absent, or 1 … :data:`MAX_ID`."""
    return Query(None, ge=1, le=MAX_ID, description=description)


def after_query(description: str) -> Any:
    """A keyset cursor: the last id of the previous page, 0 (the default) for the first."""
    return Query(0, ge=0, le=MAX_ID, description=description)


def whole_number(text: str, low: int = 1, high: int = MAX_ID) -> int | None:
    """``text`` as an int in ``low`` … ``high``, else None. ASCII digits only: ``"²"`` and
    ``"١"`` pass ``str.isdigit`` but not ``int`` (or not as a reader means them), and no
    longer than ``high`` is written, since ``int`` refuses over 4,300 digits."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        return None
    value = int(text)
    return value if low <= value <= high else None


DeliveryId = Annotated[int, path_id("delivery")]
PartnerId = Annotated[int, path_id("partner")]
ReleaseId = Annotated[int, path_id("release")]
SubscriberId = Annotated[int, path_id("subscriber")]

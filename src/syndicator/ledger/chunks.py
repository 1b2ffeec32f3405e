"""Chunks: no ledger statement binds more than one chunk of rows.

An event may have 100,000 targets, more than SQLite (32,766) or PostgreSQL (65,535) accept
as parameters of one statement, so every bulk write and read goes a chunk at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TypeVar

__all__ = [
    "CHUNK",
    "chunked",
    "padded",
]

# Rows per statement and per short transaction when planning or releasing in bulk.
CHUNK = 1000

T = TypeVar("T")


def chunked(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def padded(members: Sequence[T]) -> list[T]:
    """``members`` for an ``IN (…)``, as many as the next power of two by repeating the
    last one (which changes no membership). The statement's SQL depends on that count,
    and SQLite's driver prepares and caches each distinct statement apart (128 per
    connection): batches of every size filled those caches, and a newsletter worker's
    memory grew with the recipients it mailed. Padded, a query has at most 11 shapes."""
    if not members:
        return []
    size = 1 << (len(members) - 1).bit_length()
    return [*members, *[members[-1]] * (size - len(members))]

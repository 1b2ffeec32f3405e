"""Chunks: no ledger statement binds more than one chunk of rows.

An event may have 100,000 targets, more than SQLite (32,766) or PostgreSQL (65,535) accept
as parameters of one statement, so every bulk write and read goes a chunk at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

__all__ = [
    "CHUNK",
    "chunked",
]

# Rows per statement and per short transaction when planning or releasing in bulk.
CHUNK = 1000

T = TypeVar("T")


def chunked(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk

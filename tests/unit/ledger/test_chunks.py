"""No statement binds more than a chunk: chunks are bounded, and taken lazily."""

from __future__ import annotations

from syndicator.ledger.chunks import chunked


def test_chunks_are_bounded_and_lazy():
    def endless():
        n = 0
        while True:
            yield n
            n += 1

    chunks = chunked(endless(), 1000)
    assert next(chunks) == list(range(1000)) and next(chunks)[0] == 1000
    assert list(chunked([], 10)) == [] and list(chunked(range(5), 2)) == [[0, 1], [2, 3], [4]]

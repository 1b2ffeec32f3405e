"""No statement binds more than a chunk: chunks are bounded, and taken lazily."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from syndicator.ledger.chunks import CHUNK, chunked, padded


def test_chunks_are_bounded_and_lazy():
    def endless():
        n = 0
        while True:
            yield n
            n += 1

    chunks = chunked(endless(), 1000)
    assert next(chunks) == list(range(1000)) and next(chunks)[0] == 1000
    assert list(chunked([], 10)) == [] and list(chunked(range(5), 2)) == [[0, 1], [2, 3], [4]]


@given(st.lists(st.integers(), max_size=CHUNK))
def test_padding_keeps_every_member_and_nothing_else(members: list[int]) -> None:
    padded_members = padded(members)
    assert set(padded_members) == set(members)
    assert padded_members[: len(members)] == members
    if members:
        size = len(padded_members)
        assert size & (size - 1) == 0 and len(members) <= size < 2 * len(members)


def test_a_chunk_of_any_size_is_one_of_eleven_statement_shapes() -> None:
    """What bounds the driver's cache of prepared statements, whatever the batch sizes."""
    shapes = {len(padded(list(range(n)))) for n in range(1, CHUNK + 1)}
    assert shapes == {2**k for k in range(11)}

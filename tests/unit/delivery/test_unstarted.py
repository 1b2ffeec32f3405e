"""What a batch holds and has not started: rows added by any claim, gone once started."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from syndicator.delivery.unstarted import Unstarted
from syndicator.ledger.claims import Claimed


def _job(delivery_id: int, token: str) -> Claimed:
    return Claimed(delivery_id, "evt", "email", f"subscriber:{delivery_id}", 1, token)


@given(
    st.lists(st.tuples(st.integers(1, 50), st.sampled_from("abc")), max_size=40),
    st.sets(st.integers(1, 60)),
)
def test_the_unstarted_rows_are_those_claimed_minus_those_started(
    claims: list[tuple[int, str]], started: set[int]
) -> None:
    unstarted = Unstarted(_job(n, token) for n, token in claims[:5])
    unstarted.add(_job(n, token) for n, token in claims[5:])
    for delivery_id in started:
        unstarted.start(delivery_id)
    left = {n for n, _ in claims} - started
    assert {job.delivery_id for job in unstarted.rows()} == left and len(unstarted) == len(left)
    # Every claim's token is kept, started or not: a failed batch hands back by token.
    assert unstarted.tokens == {token for _, token in claims}

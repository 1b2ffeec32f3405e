"""Attempt tallies: running totals by channel, outcome and duration bucket that add up to
exactly the attempts recorded, however they arrive."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from syndicator.ledger.tallies import DURATION_BUCKETS, add_attempts, bucket_of, read_tallies
from syndicator.store.db import Database
from syndicator.store.models import AttemptTally


def test_a_duration_falls_in_the_first_bucket_that_holds_it() -> None:
    assert bucket_of(0) == 0 and bucket_of(DURATION_BUCKETS[0]) == 0
    assert bucket_of(0.011) == 1
    assert bucket_of(DURATION_BUCKETS[-1] + 1) == len(DURATION_BUCKETS)  # +Inf


attempts = st.lists(
    st.tuples(st.sampled_from(["succeeded", "retrying", "failed"]), st.floats(0, 60_000)),
    max_size=30,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(attempts, min_size=1, max_size=4))
def test_totals_equal_the_attempts_added_in_any_number_of_transactions(
    db: Database, batches: list[list[tuple[str, float]]]
) -> None:
    with db.session() as session:
        session.execute(delete(AttemptTally))
    for batch in batches:
        with db.session() as session:
            add_attempts(session, "webhooks", batch)
    with db.session() as session:
        tallies = read_tallies(session)
    every = [a for batch in batches for a in batch]
    expected = Counter((outcome, bucket_of(ms / 1000)) for outcome, ms in every)
    assert {(t.outcome, t.bucket): t.attempts for t in tallies} == dict(expected)
    assert all(t.channel == "webhooks" for t in tallies)
    total = sum(t.duration_seconds for t in tallies)
    assert abs(total - sum(ms for _, ms in every) / 1000) < 1e-6 * max(1, len(every))

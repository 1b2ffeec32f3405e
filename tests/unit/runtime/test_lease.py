"""A lease ends its margin before the lock could expire, counted from the latest renewal
sent; losing it ends it at once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syndicator.runtime.lease import Lease


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


times = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(renewals=st.lists(times, max_size=5), at=times)
def test_held_until_the_latest_renewal_plus_the_length_less_the_margin(renewals, at) -> None:
    clock = Clock()
    lease = Lease(20, 5, clock)
    for sent_at in renewals:  # in any order: a late answer never shortens the lease
        lease.renewed(sent_at)
    clock.now = at
    assert lease.held() == (bool(renewals) and at < max(renewals) + 15)


def test_a_new_lease_is_not_held_and_a_lost_one_ends_at_once() -> None:
    clock = Clock()
    lease = Lease(20, 5, clock)
    assert not lease.held()
    lease.renewed(lease.now())
    assert lease.held()
    lease.lost()
    assert not lease.held()


@pytest.mark.parametrize("margin", [-1, 20, 25])
def test_a_margin_must_leave_some_lease(margin: float) -> None:
    with pytest.raises(ValueError, match="margin"):
        Lease(20, margin)

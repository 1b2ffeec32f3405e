"""The poison rule's sizes: a struck row goes in ever smaller claims, alone before its last
strike. (Strikes and failing as poison, on a real database: test_claimers.py; through a
real worker: tests/integration/test_poison_rows.py.)"""

from __future__ import annotations

from syndicator.ledger.poison import POISON_STRIKES, suspect_claim_size


def test_claim_sizes_shrink_to_one_before_the_last_strike():
    sizes = [suspect_claim_size(k) for k in range(POISON_STRIKES)]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] >= 1000
    # Rows that shared a claim with a poison row are cleared in a claim without it while
    # it still has strikes to go: only the poison row itself is ever failed.
    assert sizes.index(1) < POISON_STRIKES - 1

"""The rows a batch holds and has not started yet: what it hands back when it stops.

A batch that tops itself up may claim tens of thousands of rows in its life; only those
not yet started are kept here, so its memory stays that of the rows in hand.
"""

from __future__ import annotations

from collections.abc import Iterable

from syndicator.ledger.claims import Claimed

__all__ = ["Unstarted"]


class Unstarted:
    def __init__(self, jobs: Iterable[Claimed] = ()) -> None:
        self._rows: dict[int, Claimed] = {}
        # Every claim the batch made (one token each, a few per batch): what a failed
        # batch hands back.
        self.tokens: set[str] = set()
        self.add(jobs)

    def add(self, jobs: Iterable[Claimed]) -> None:
        for job in jobs:
            self._rows[job.delivery_id] = job
            self.tokens.add(job.token)

    def start(self, delivery_id: int) -> None:
        """The row is under way: its outcome, not a hand-back, settles it."""
        self._rows.pop(delivery_id, None)

    def rows(self) -> list[Claimed]:
        return list(self._rows.values())

    def __len__(self) -> int:
        return len(self._rows)

"""A clock tests move by hand, standing in for the ``time`` module of the code under test."""

from __future__ import annotations

__all__ = ["FakeClock"]


class FakeClock:
    """``time()`` and ``monotonic()`` that only move when ``advance`` says so."""

    def __init__(self, start: float = 1_900_000_000.0) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

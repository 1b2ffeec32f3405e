"""Which database errors mean "not now", and a unit of work tried again through them."""

from __future__ import annotations

import pytest
from sqlalchemy import exc

from syndicator.store import outage
from syndicator.store.outage import is_unavailable, retrying


class _Driver(Exception):
    def __init__(self, sqlstate: str | None = None) -> None:
        super().__init__("driver error")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "away"),
    [
        (exc.OperationalError("SELECT 1", {}, _Driver()), True),  # connect refused, reset
        (exc.InterfaceError("SELECT 1", {}, _Driver(), connection_invalidated=True), True),
        (exc.InternalError("INSERT", {}, _Driver("25006")), True),  # a standby refuses
        (exc.ProgrammingError("SELECT", {}, _Driver("42P01")), False),  # a bug
        (exc.IntegrityError("INSERT", {}, _Driver("23505")), False),
        (exc.TimeoutError("QueuePool limit reached"), True),
        (ValueError("not the database"), False),
    ],
)
def test_only_the_database_being_away_is_unavailable(error: Exception, away: bool) -> None:
    assert is_unavailable(error) is away


def test_work_is_tried_again_until_the_database_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outage.time, "sleep", lambda _: None)
    tries: list[int] = []

    def work() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise exc.OperationalError("SELECT 1", {}, _Driver())
        return "done"

    assert retrying(work, seconds=60, what="test") == "done"
    assert len(tries) == 3


def test_any_other_error_is_raised_at_once() -> None:
    tries: list[int] = []

    def work() -> None:
        tries.append(1)
        raise exc.IntegrityError("INSERT", {}, _Driver("23505"))

    with pytest.raises(exc.IntegrityError):
        retrying(work, seconds=60, what="test")
    assert len(tries) == 1


def test_an_outage_past_the_deadline_is_raised() -> None:
    def work() -> None:
        raise exc.OperationalError("SELECT 1", {}, _Driver())

    with pytest.raises(exc.OperationalError):
        retrying(work, seconds=0, what="test")

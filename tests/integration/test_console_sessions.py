"""Ops console sessions live in the database: logout, 30 idle minutes, eight hours and a
new admin token each end one, for every copy of its cookie. Over real HTTP, with the
app's clock turned forward by the test (never a sleep)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text

from syndicator.config import Settings
from syndicator.ops.console_sessions import purge_expired
from syndicator.store.db import Database
from syndicator.store.models import ConsoleSession, utcnow
from syndicator.web.app import create_app
from syndicator.web.state import AppState
from tests.integration.test_ops_console import TOKEN, form_fields, login
from tests.live_server import serve
from tests.services import free_port

IDLE = timedelta(minutes=30)
REFRESH = {"Accept": "text/html", "X-Ops-Refresh": "1"}


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Console:
    url: str
    state: AppState
    db: Database
    clock: Clock

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


@pytest.fixture
def console(app_settings: Settings) -> Iterator[Console]:
    port = free_port()
    settings = app_settings.with_(base_url=f"http://127.0.0.1:{port}")
    app = create_app(settings)
    state: AppState = app.state.syndicator
    state.clock = clock = Clock(utcnow())
    with serve(app, port) as url, Database(settings.database_url) as db:
        yield Console(url, state, db, clock)


def _cookie(http: httpx.Client) -> str:
    return http.cookies["syndicator_ops"]


def _with_cookie(console: Console, cookie: str) -> httpx.Client:
    http = console.client()
    http.cookies.set("syndicator_ops", cookie, path="/ops")
    return http


def _in(http: httpx.Client, headers: dict[str, str] | None = None) -> bool:
    answer = http.get("/ops/audit", headers=headers or {"Accept": "text/html"})
    assert answer.status_code in (200, 303), answer.text
    return answer.status_code == 200


def _sessions(db: Database) -> list[ConsoleSession]:
    with db.session() as session:
        rows = list(session.scalars(select(ConsoleSession)))
        session.expunge_all()
        return rows


def test_logout_ends_the_session_for_every_copy_of_the_cookie(console: Console) -> None:
    with console.client() as http:
        login(http)
        stolen = _cookie(http)
        page = http.get("/ops")
        logout = http.post("/ops/logout", data=form_fields(page.text), follow_redirects=False)
        assert logout.status_code == 303 and logout.headers["location"] == "/ops/login"
    assert _sessions(console.db) == []
    with _with_cookie(console, stolen) as replayed:
        assert not _in(replayed)
        assert replayed.get("/ops/failures").status_code == 401
        refused = replayed.post("/ops/actions/pause", data={"target": "email", "confirm": "yes"})
        assert refused.status_code == 401


def test_an_idle_session_ends_after_30_minutes_and_each_request_slides_it(
    console: Console,
) -> None:
    with console.client() as http:
        login(http)
        for _ in range(4):  # two hours of an operator clicking every 29 minutes
            console.clock.advance(minutes=29)
            assert _in(http)
        console.clock.advance(minutes=30, seconds=1)
        assert not _in(http)
    assert _sessions(console.db) == []  # refused: its row went at once


def test_the_pages_own_refresh_does_not_keep_a_session_alive(console: Console) -> None:
    with console.client() as http:
        login(http)
        console.clock.advance(minutes=20)
        assert _in(http, REFRESH)  # still valid: answered ...
        console.clock.advance(minutes=10, seconds=1)
        assert not _in(http, REFRESH)  # ... but the operator has been away 30 minutes


def test_a_session_ends_after_eight_hours_however_active(console: Console) -> None:
    with console.client() as http:
        login(http)
        for _ in range(8 * 2):
            console.clock.advance(minutes=29, seconds=59)
            assert _in(http)
        console.clock.advance(minutes=1)
        assert not _in(http)


def test_a_new_admin_token_ends_every_session_opened_under_the_old_one(
    console: Console,
) -> None:
    with console.client() as http:
        login(http)
        assert _in(http)
        old = console.state.settings
        console.state.settings = old.with_(admin_token="a-new-admin-token")
        assert not _in(http)
        console.state.settings = old  # even the old token back does not revive it
        assert not _in(http)


def test_the_database_holds_neither_token(console: Console) -> None:
    with console.client() as http:
        login(http, "김운영")
        cookie = _cookie(http)
    (row,) = _sessions(console.db)
    with console.db.session() as session:
        (dumped,) = session.execute(text("SELECT * FROM console_sessions"))
    assert row.who == "김운영"
    assert cookie not in repr(tuple(dumped)) and TOKEN not in repr(tuple(dumped))
    assert cookie and len(cookie) >= 40  # 32 random bytes


def test_each_login_is_a_session_of_its_own_with_its_own_csrf_token(console: Console) -> None:
    with console.client() as one, console.client() as two:
        login(one)
        login(two)
        assert _cookie(one) != _cookie(two)
        theirs = form_fields(two.get("/ops/confirm/pause", params={"target": "email"}).text)
        forged = one.post("/ops/actions/pause", data=theirs)
        assert forged.status_code == 403
        page = one.get("/ops")
        one.post("/ops/logout", data=form_fields(page.text))
        assert not _in(one) and _in(two)  # one logout ends one session


def test_the_retention_task_purges_sessions_nobody_can_resume(console: Console) -> None:
    with console.client() as stays, console.client() as leaves:
        login(leaves)
        console.clock.advance(minutes=20)
        login(stays)
        console.clock.advance(minutes=15)
        assert purge_expired(console.db, console.clock(), IDLE) == 1
        assert _in(stays)
    assert len(_sessions(console.db)) == 1


def test_without_an_admin_token_the_console_is_off(console: Console) -> None:
    with console.client() as http:
        login(http)
        console.state.settings = console.state.settings.with_(admin_token=None)
        assert http.get("/ops").status_code == 503

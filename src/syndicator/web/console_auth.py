"""Who may use the ops console, and the CSRF token every console form carries.

Two ways in: ``Authorization: Bearer <SYNDICATOR_ADMIN_TOKEN>`` (scripts), or the login
form, which takes the same token once and opens a server-side session
(:mod:`syndicator.ops.console_sessions`); the cookie (HttpOnly, SameSite=Strict, Secure
when the base URL is https, scoped to ``/ops``) carries only the session's random token.
Logging out, 30 idle minutes and a new admin token end a session.

Every console form carries a CSRF token bound to the session (an HMAC keyed with the
session's token), and every POST must also come from this site
(``web.csrf.from_this_site``). The login form, used before there is a session, carries a
double-submit token instead.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from fastapi import Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from syndicator.config import Settings
from syndicator.ops import console_sessions
from syndicator.ops.audit import api_actor
from syndicator.web.admin import bearer_matches
from syndicator.web.csrf import from_this_site
from syndicator.web.problems import Problem
from syndicator.web.state import AppState

__all__ = [
    "CSRF_FIELD",
    "LOGIN_COOKIE",
    "REFRESH_HEADER",
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "ConsoleOperator",
    "Operator",
    "check_csrf",
    "set_console_cookie",
    "token_matches",
]

SESSION_COOKIE = "syndicator_ops"
LOGIN_COOKIE = "syndicator_ops_login"
CSRF_FIELD = "csrf_token"
SESSION_SECONDS = int(console_sessions.LIFETIME.total_seconds())
COOKIE_PATH = "/ops"
# Sent by /static/ops.js when it refreshes a page by itself: not the operator's doing,
# so it does not keep an unattended console's session alive.
REFRESH_HEADER = "x-ops-refresh"


@dataclass(frozen=True)
class Operator:
    who: str  # as given at login, or "bearer" (an X-Operator header names the script)
    via: str  # session | bearer
    csrf: str  # the token this operator's forms carry ("" for bearer clients)
    actor: str  # who the audit log names: console:<session ref>:<name>, or api:<…>


def _admin_token(settings: Settings) -> str:
    if not settings.admin_token:
        raise Problem(503, "Console disabled", "set SYNDICATOR_ADMIN_TOKEN to use /ops")
    return settings.admin_token


def token_matches(settings: Settings, given: str) -> bool:
    return bearer_matches(f"Bearer {given}", [_admin_token(settings)])


def set_console_cookie(
    response: Response, settings: Settings, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=settings.base_url.startswith("https://"),
        httponly=True,
        samesite="strict",
    )


def _from_session(state: AppState, cookie: str, touch: bool) -> Operator | None:
    found = console_sessions.resume_session(
        state.db,
        cookie,
        _admin_token(state.settings),
        state.clock(),
        timedelta(minutes=state.settings.console_idle_minutes),
        touch,
    )
    if found is None:
        return None
    return Operator(found.who, "session", found.csrf, f"console:{found.ref}:{found.who}")


async def _operator(request: Request) -> Operator:
    state: AppState = request.app.state.syndicator
    settings = state.settings
    authorization = request.headers.get("authorization", "")
    if authorization and bearer_matches(authorization, [_admin_token(settings)]):
        name = request.headers.get("x-operator", "").strip()[:100]
        actor = api_actor(_admin_token(settings), name)
        return Operator(f"bearer:{name}" if name else "bearer", "bearer", "", actor)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    touch = REFRESH_HEADER not in request.headers
    operator = await run_in_threadpool(_from_session, state, cookie, touch) if cookie else None
    if operator is not None:
        return operator
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        target = quote(request.url.path, safe="/")
        raise Problem(
            303, "See Other", "log in first", headers={"Location": f"/ops/login?next={target}"}
        )
    raise Problem(
        401,
        "Unauthorized",
        "log in at /ops/login, or send Authorization: Bearer <SYNDICATOR_ADMIN_TOKEN>",
        headers={"WWW-Authenticate": "Bearer"},
    )


ConsoleOperator = Depends(_operator)


def check_csrf(settings: Settings, request: Request, operator: Operator, submitted: object) -> None:
    """Refuse a console POST from another site, or without this session's token."""
    refused = not from_this_site(settings, request)
    if operator.via == "session":
        given = submitted if isinstance(submitted, str) else ""
        refused |= not hmac.compare_digest(given.encode(), operator.csrf.encode())
    if refused:
        raise Problem(
            403,
            "Forbidden",
            "이 요청의 CSRF 토큰이 맞지 않습니다. 콘솔 페이지를 새로 열고 다시 시도하세요.",
            [{"field": CSRF_FIELD, "reason": "missing or wrong CSRF token, or cross-site"}],
        )

"""Who may use the ops console, and the CSRF token every console form carries.

Two ways in: ``Authorization: Bearer <SYNDICATOR_ADMIN_TOKEN>`` (scripts), or the login
form, which takes the same token once and sets a signed, expiring session cookie
(HttpOnly, SameSite=Strict, Secure when the base URL is https, scoped to ``/ops``). The
cookie is signed with a key derived from the admin token, so rotating the token ends
every session.

Every console form carries a CSRF token bound to the session (an HMAC of the session's
id), and every POST must also come from this site (``web.csrf.from_this_site``). The
login form, used before there is a session, carries a double-submit token instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from syndicator.config import Settings
from syndicator.ops.audit import api_actor
from syndicator.web.admin import bearer_matches
from syndicator.web.csrf import from_this_site
from syndicator.web.problems import Problem

__all__ = [
    "CSRF_FIELD",
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "ConsoleOperator",
    "Operator",
    "check_csrf",
    "new_session",
    "set_console_cookie",
    "token_matches",
]

SESSION_COOKIE = "syndicator_ops"
LOGIN_COOKIE = "syndicator_ops_login"
CSRF_FIELD = "csrf_token"
SESSION_SECONDS = 8 * 60 * 60  # one working shift
COOKIE_PATH = "/ops"


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


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    key = hashlib.sha256(b"ops-session:" + _admin_token(settings).encode()).hexdigest()
    return URLSafeTimedSerializer(key, salt="syndicator-ops-session")


def _csrf_for(settings: Settings, session_id: str) -> str:
    key = hashlib.sha256(b"ops-csrf:" + _admin_token(settings).encode()).digest()
    return hmac.new(key, session_id.encode(), hashlib.sha256).hexdigest()


def token_matches(settings: Settings, given: str) -> bool:
    return bearer_matches(f"Bearer {given}", [_admin_token(settings)])


def new_session(settings: Settings, who: str) -> str:
    """The signed cookie value for a fresh session."""
    return str(_serializer(settings).dumps({"who": who, "sid": secrets.token_urlsafe(18)}))


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


def _from_session(settings: Settings, cookie: str) -> Operator | None:
    try:
        data = _serializer(settings).loads(cookie, max_age=SESSION_SECONDS)
    except BadSignature:  # also SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
        return None
    who = str(data.get("who") or "operator")
    ref = hashlib.sha256(data["sid"].encode()).hexdigest()[:8]
    return Operator(who, "session", _csrf_for(settings, data["sid"]), f"console:{ref}:{who}")


async def _operator(request: Request) -> Operator:
    settings: Settings = request.app.state.syndicator.settings
    authorization = request.headers.get("authorization", "")
    if authorization and bearer_matches(authorization, [_admin_token(settings)]):
        name = request.headers.get("x-operator", "").strip()[:100]
        actor = api_actor(_admin_token(settings), name)
        return Operator(f"bearer:{name}" if name else "bearer", "bearer", "", actor)
    operator = _from_session(settings, request.cookies.get(SESSION_COOKIE, ""))
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

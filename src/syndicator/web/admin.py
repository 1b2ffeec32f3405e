"""The operators' bearer token, checked once for every admin route."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Any

from fastapi import Depends, Header, Request

from syndicator.ops.audit import api_actor
from syndicator.web.problems import PROBLEM_CONTENT, Problem
from syndicator.web.state import AppState

__all__ = ["ADMIN_RESPONSES", "AdminOnly", "api_operator", "bearer_matches", "require_admin"]

ADMIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong admin token", **PROBLEM_CONTENT}
}


def bearer_matches(authorization: str, tokens: Iterable[str | None]) -> bool:
    """``Bearer <one of tokens>`` (unset ones never match), each compared in constant time
    and every one compared, so the time taken says nothing."""
    scheme, _, given = authorization.partition(" ")
    found = False
    for token in tokens:
        same = hmac.compare_digest(given.strip().encode(), (token or "").encode())
        found |= same and token is not None
    return scheme.lower() == "bearer" and found


async def require_admin(request: Request, authorization: str = Header(default="")) -> None:
    """``Authorization: Bearer <SYNDICATOR_ADMIN_TOKEN>``, compared in constant time."""
    state: AppState = request.app.state.syndicator
    if not bearer_matches(authorization, [state.settings.admin_token]):
        raise Problem(
            401,
            "Unauthorized",
            "send Authorization: Bearer <SYNDICATOR_ADMIN_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )


def api_operator(request: Request) -> str:
    """Who the audit log names for an admin API call: ``api:<token fingerprint>``, and
    ``:<name>`` when the script says who it acts for in an ``X-Operator`` header (everyone
    shares the token). Only routes behind :data:`AdminOnly` call it."""
    state: AppState = request.app.state.syndicator
    return api_actor(state.settings.admin_token or "", request.headers.get("x-operator", ""))


# ``dependencies=[AdminOnly]`` on a route or a router.
AdminOnly = Depends(require_admin)

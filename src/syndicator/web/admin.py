"""The operators' bearer token, checked once for every admin route."""

from __future__ import annotations

import hmac

from fastapi import Depends, Header, Request

from syndicator.web.problems import Problem
from syndicator.web.state import AppState

__all__ = ["ADMIN_RESPONSES", "AdminOnly", "require_admin"]

ADMIN_RESPONSES: dict[int | str, dict[str, str]] = {
    401: {"description": "Missing or wrong admin token"}
}


async def require_admin(request: Request, authorization: str = Header(default="")) -> None:
    """``Authorization: Bearer <SYNDICATOR_ADMIN_TOKEN>``, compared in constant time."""
    state: AppState = request.app.state.syndicator
    token = state.settings.admin_token
    scheme, _, given = authorization.partition(" ")
    ok = scheme.lower() == "bearer" and token is not None
    # Compared even when the scheme is wrong, so the time taken says nothing.
    same = hmac.compare_digest(given.strip().encode(), (token or "").encode())
    if not (ok and same):
        raise Problem(
            401,
            "Unauthorized",
            "send Authorization: Bearer <SYNDICATOR_ADMIN_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )


# ``dependencies=[AdminOnly]`` on a route or a router.
AdminOnly = Depends(require_admin)

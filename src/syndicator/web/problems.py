"""Errors as RFC 9457 problem documents that name the field and the reason."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import exc as db_errors

from syndicator.logs import kv
from syndicator.store.outage import RETRY_AFTER_SECONDS, is_unavailable

__all__ = [
    "PROBLEM_CONTENT",
    "FieldError",
    "Problem",
    "install_problem_handler",
    "problem",
    "validation_errors",
]

# The OpenAPI content of an error answer, for a route's ``responses``.
PROBLEM_CONTENT: dict[str, Any] = {"content": {"application/problem+json": {}}}

FieldError = dict[str, str]

log = logging.getLogger("syndicator.web")


def problem(
    status: int,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def validation_errors(exc: ValidationError) -> list[FieldError]:
    out = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(part) for part in err["loc"]) or "(body)"
        out.append({"field": field, "reason": err["msg"]})
    return out


class Problem(Exception):
    """Raise from a handler or a dependency to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.errors, self.headers = errors, headers

    def response(self) -> JSONResponse:
        return problem(self.status, self.title, self.detail, self.errors, self.headers)


def install_problem_handler(app: FastAPI) -> None:
    async def answer(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return exc.response()

    async def crashed(_: Request, exc: Exception) -> JSONResponse:
        # Starlette answers an unhandled error outside every middleware: say nosniff here.
        return problem(
            500,
            "Internal Server Error",
            "the server failed to answer; the error is logged",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    async def database_away(request: Request, exc: Exception) -> JSONResponse:
        # A restart or a switchover: every route says "again shortly", never 500. Other
        # database errors are bugs, answered (and logged) as any crash.
        if not is_unavailable(exc):
            raise exc
        log.warning(
            kv(
                msg="database unavailable",
                path=request.url.path,
                error=type(exc).__name__,
                detail=str(getattr(exc, "orig", None) or exc).splitlines()[0][:200],
            )
        )
        return problem(
            503,
            "Database unavailable",
            "the database is not reachable right now; retry shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    app.add_exception_handler(Problem, answer)
    app.add_exception_handler(db_errors.DBAPIError, database_away)
    app.add_exception_handler(db_errors.TimeoutError, database_away)
    app.add_exception_handler(Exception, crashed)

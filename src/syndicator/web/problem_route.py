"""Routes whose request validation errors are problem documents naming each field.

FastAPI's own 422 lists ``loc`` arrays; our API answers every error the same way
(``web/problems.py``): one ``{"field", "reason"}`` per bad field, the field named as the
client wrote it (``url``, ``headers``, ``status``), without FastAPI's ``body``/``query``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException  # what FastAPI raises for an unreadable body

from syndicator.web.problems import PROBLEM_CONTENT, FieldError, problem

__all__ = ["VALIDATION_RESPONSES", "ProblemRoute", "field_errors"]

VALIDATION_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "Invalid input: a problem document whose `errors` name each field "
        "and the reason",
        **PROBLEM_CONTENT,
    }
}

_SOURCES = {"body", "query", "path", "header"}


def field_errors(errors: Any) -> list[FieldError]:
    out = []
    for err in errors:
        if err.get("type") == "json_invalid":
            where = err.get("loc", ("body", "?"))[-1]
            out.append({"field": "(body)", "reason": f"not valid JSON (at character {where})"})
            continue
        loc = [str(part) for part in err.get("loc", ())]
        if loc and loc[0] in _SOURCES:
            loc = loc[1:]
        reason = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        out.append({"field": ".".join(loc) or "(body)", "reason": reason})
    return out


def _unreadable_body(exc: HTTPException) -> list[FieldError]:
    """FastAPI's bare 400 for a body it could not decode (JSON that is not UTF-8, a broken
    multipart form), said the way every other bad body is said."""
    cause = exc.__cause__
    reason = "not valid UTF-8" if isinstance(cause, UnicodeDecodeError) else "could not be read"
    return [{"field": "(body)", "reason": reason}]


def _documents_validation(responses: dict[int | str, Any]) -> dict[int | str, Any]:
    """The 422 any route with input can answer is a problem document, beside whatever
    else the route documents for it (an HTML page for a form's own errors)."""
    documented = {**responses}
    key: int | str = "422" if "422" in documented else 422
    entry = {**VALIDATION_RESPONSES[422], **documented.get(key, {})}
    entry["content"] = {**entry.get("content", {}), **PROBLEM_CONTENT["content"]}
    documented[key] = entry
    return documented


class ProblemRoute(APIRoute):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.responses = _documents_validation(self.responses)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                errors = field_errors(exc.errors())
            except HTTPException as exc:
                if exc.status_code != 400:
                    raise
                errors = _unreadable_body(exc)
            detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
            return problem(422, "Invalid request", detail, errors)

        return answer

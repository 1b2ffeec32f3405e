"""``POST /subscriptions``: subscribe an address, from JSON or a urlencoded form, answered
with JSON (or a page when a browser asks for HTML)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from syndicator.i18n import N_, translate
from syndicator.subscriptions.addresses import InvalidAddress, normalise_address
from syndicator.subscriptions.preferences import (
    InvalidPreference,
    Preferences,
    clean_language,
    unknown_topics,
)
from syndicator.web.language import page_language
from syndicator.web.problem_route import ProblemRoute
from syndicator.web.problems import PROBLEM_CONTENT, FieldError, Problem
from syndicator.web.state import AppState
from syndicator.web.subscriptions.common import (
    check_rate,
    known,
    preferences,
    read_fields,
    require_token_keys,
    start_subscription,
)
from syndicator.web.subscriptions.render import render_message

__all__ = ["SubscribeAccepted", "SubscribeRequest", "router"]

router = APIRouter(route_class=ProblemRoute)


class SubscribeRequest(BaseModel):
    """What `POST /subscriptions` reads, as JSON or form fields (lists repeat the field)."""

    email: str = Field(examples=["resident@example.org"])
    mode: Literal["immediate", "daily", "weekly"] = "immediate"
    language: Literal["ko", "en"] = Field(
        "ko", description="The language of the subscriber's mails (release text stays Korean)"
    )
    categories: list[str] = Field(default_factory=list, examples=[["경제"]])
    departments: list[str] = Field(default_factory=list, examples=[[]])


class SubscribeAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    message: str


_ACCEPTED_MESSAGE = N_(
    "요청을 받았습니다. 입력하신 주소로 안내 메일을 보냅니다. "
    "메일의 링크를 눌러 구독을 확인해 주세요."
)

# The handler reads JSON or a form itself, so the schema is given inline (no $ref to add).
_SUBSCRIBE_SCHEMA = SubscribeRequest.model_json_schema()
_FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": _SUBSCRIBE_SCHEMA,
                "example": {
                    "email": "resident@example.org",
                    "mode": "immediate",
                    "language": "ko",
                    "categories": ["경제"],
                    "departments": [],
                },
            },
            "application/x-www-form-urlencoded": {"schema": _SUBSCRIBE_SCHEMA},
        },
    }
}


def _validated(fields: dict[str, Any]) -> tuple[str, Preferences, str]:
    errors: list[FieldError] = []
    address, prefs, language = "", Preferences(), "ko"
    try:
        address = normalise_address(fields.get("email"))
    except InvalidAddress as exc:
        errors.append({"field": "email", "reason": exc.reason})
    try:
        prefs = preferences(fields)
    except InvalidPreference as exc:
        errors.append({"field": exc.field, "reason": exc.reason})
    try:
        language = clean_language(fields.get("language"))
    except InvalidPreference as exc:
        errors.append({"field": exc.field, "reason": exc.reason})
    if errors:
        raise Problem(422, "Invalid subscription", "the subscription request is not valid", errors)
    return address, prefs, language


def _require_known_topics(state: AppState, prefs: Preferences) -> None:
    """422 naming each field and the topics in it that no release has used."""
    unknown = unknown_topics(prefs, known(state))
    if unknown:
        raise Problem(
            422,
            "Invalid subscription",
            "the subscription request is not valid",
            [{"field": error.field, "reason": error.reason} for error in unknown],
        )


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


@router.post(
    "/subscriptions",
    status_code=202,
    tags=["Subscriptions"],
    summary="Subscribe an address (double opt-in)",
    description=(
        "Takes JSON or a urlencoded form (`categories` and `departments` repeat). Empty or "
        "absent lists mean every release. The answer is the same whether or not the address "
        "was already subscribed: a new or pending address is sent a confirmation link "
        "(valid 72 hours), an active one a note with its preferences link. Rate-limited per "
        "address and per client (429 with Retry-After). `language` (`ko`, the default, or "
        "`en`) is the language of the subscriber's mails and pages; the releases stay as "
        "the city wrote them."
    ),
    response_model=SubscribeAccepted,
    responses={
        202: {"content": {"text/html": {}}},
        400: {**PROBLEM_CONTENT, "description": "The body is not JSON, or not a UTF-8 form"},
        413: PROBLEM_CONTENT,
        415: PROBLEM_CONTENT,
        422: {**PROBLEM_CONTENT, "description": "A field is not valid; `errors` names it"},
        429: {**PROBLEM_CONTENT, "description": "Too many requests; see Retry-After"},
        503: {**PROBLEM_CONTENT, "description": "The rate limiter's Redis is unavailable"},
    },
    openapi_extra=_FORM_BODY,
)
async def subscribe(request: Request, background: BackgroundTasks) -> Response:
    state: AppState = request.app.state.syndicator
    require_token_keys(state)
    address, prefs, language = _validated(await read_fields(request))
    await run_in_threadpool(_require_known_topics, state, prefs)
    await run_in_threadpool(check_rate, request, address)
    await start_subscription(state, background, address, prefs, language)
    if _wants_html(request):
        html = render_message(
            state.settings,
            N_("메일을 확인해 주세요"),
            [_ACCEPTED_MESSAGE],
            page=page_language(request),
        )
        return HTMLResponse(html, status_code=202)
    accepted = SubscribeAccepted(message=translate(language, _ACCEPTED_MESSAGE))
    return JSONResponse(accepted.model_dump(), status_code=202)

"""HTTP API: the operators' notices (a partner disabled …), each with every attempt to
mail it, and replay (admin token required)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from syndicator.ops.actions import ActionRefused
from syndicator.ops.notices import (
    MAX_NOTICES,
    NoticeNotFound,
    NoticeView,
    get_notice,
    recent_notices,
    replay_notice,
)
from syndicator.store.db import Database
from syndicator.web.admin import ADMIN_RESPONSES, AdminOnly, api_operator
from syndicator.web.ids import DeliveryId
from syndicator.web.problem_route import VALIDATION_RESPONSES, ProblemRoute
from syndicator.web.problems import PROBLEM_CONTENT, Problem
from syndicator.web.state import AppState

__all__ = ["router"]

router = APIRouter(
    prefix="/api/notices",
    tags=["Operations"],
    dependencies=[AdminOnly],
    responses={**ADMIN_RESPONSES, **VALIDATION_RESPONSES},
    route_class=ProblemRoute,
)
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such notice", **PROBLEM_CONTENT}
}


def _db(request: Request) -> Database:
    state: AppState = request.app.state.syndicator
    return state.db


@router.get(
    "",
    summary="The newest operator notices, each with its attempts",
    description="What syndicator mailed to SYNDICATOR_OPS_EMAIL (a partner disabled "
    "automatically), as ledger deliveries of the `notices` channel: retried on the mail "
    "schedule, every attempt logged.",
)
def list_notices(
    request: Request,
    limit: int = Query(50, ge=1, le=MAX_NOTICES, description="Notices to show."),
) -> list[NoticeView]:
    return recent_notices(_db(request), limit)


@router.get("/{delivery_id}", summary="One operator notice", responses=_NOT_FOUND)
def show_notice(request: Request, delivery_id: DeliveryId) -> NoticeView:
    try:
        return get_notice(_db(request), delivery_id)
    except NoticeNotFound as exc:
        raise Problem(404, "Not found", str(exc)) from None


@router.post(
    "/{delivery_id}/replay",
    status_code=202,
    summary="Mail an operator notice again now",
    description="The notice is made due now and a worker mails it within seconds, with "
    "the same Message-ID; the attempt is logged as `manual`. 409 while a worker is "
    "sending it.",
    responses={
        **_NOT_FOUND,
        409: {"description": "Being sent right now", **PROBLEM_CONTENT},
    },
)
def replay(request: Request, delivery_id: DeliveryId) -> NoticeView:
    try:
        return replay_notice(_db(request), delivery_id, api_operator(request))
    except NoticeNotFound as exc:
        raise Problem(404, "Not found", str(exc)) from None
    except ActionRefused as exc:
        raise Problem(409, "Cannot resend", str(exc)) from None

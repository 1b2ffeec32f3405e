"""HTTP API: the partner delivery log, and replay (admin token required)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Request

from syndicator.partners import delivery_log
from syndicator.partners.delivery_log import (
    DEFAULT_PAGE,
    MAX_PAGE,
    DeliveryNotFound,
    DeliveryPage,
    DeliveryView,
    NotResendable,
)
from syndicator.store.db import Database
from syndicator.web.admin import ADMIN_RESPONSES, AdminOnly, api_operator
from syndicator.web.ids import DeliveryId, id_query
from syndicator.web.partners import aware
from syndicator.web.problem_route import VALIDATION_RESPONSES, ProblemRoute
from syndicator.web.problems import PROBLEM_CONTENT, Problem
from syndicator.web.state import AppState

__all__ = ["router"]

router = APIRouter(
    prefix="/api/deliveries",
    tags=["Deliveries"],
    dependencies=[AdminOnly],
    responses={**ADMIN_RESPONSES, **VALIDATION_RESPONSES},
    route_class=ProblemRoute,
)

# The ledger's own words (delivery_log.STATUSES); anything else is a 422 naming them.
Status = Literal["pending", "in_progress", "succeeded", "failed", "suppressed", "uncertain"]


def _db(request: Request) -> Database:
    state: AppState = request.app.state.syndicator
    return state.db


@router.get(
    "",
    summary="Page through partner deliveries, newest first, each with its attempts",
    description="Keyset pages: pass `next_cursor` back as `cursor` until it is null. Each "
    f"attempt's response is cut at {delivery_log.LISTED_RESPONSE_CHARS} characters here; "
    "`GET /api/deliveries/{id}` shows the whole excerpt (up to 20,000).",
)
def list_deliveries(
    request: Request,
    partner: int | None = id_query("A partner's id."),
    status: Status | None = Query(None, description="The ledger's status word."),
    since: datetime | None = Query(None, description="Created at or after (RFC 3339)."),
    cursor: str | None = Query(None, max_length=40, description="`next_cursor` of a page."),
    limit: int = Query(DEFAULT_PAGE, ge=1, le=MAX_PAGE, description="Deliveries per page."),
) -> DeliveryPage:
    try:
        after = delivery_log.parse_cursor(cursor)
    except ValueError as exc:
        reason = str(exc)
        raise Problem(
            422, "Invalid request", f"cursor: {reason}", [{"field": "cursor", "reason": reason}]
        ) from None
    return delivery_log.list_deliveries(
        _db(request),
        partner_id=partner,
        status=status,
        since=aware(since, "since") if since is not None else None,
        cursor=after,
        limit=limit,
    )


@router.get(
    "/{delivery_id}",
    summary="One partner delivery with every attempt",
    responses={404: {"description": "No such partner delivery", **PROBLEM_CONTENT}},
)
def get_delivery(request: Request, delivery_id: DeliveryId) -> DeliveryView:
    try:
        return delivery_log.get_delivery(_db(request), delivery_id)
    except DeliveryNotFound as exc:
        raise Problem(404, "Not found", str(exc)) from None


@router.post(
    "/{delivery_id}/replay",
    status_code=202,
    summary="Resend one delivery now",
    description="Whatever its status (a succeeded one too). The delivery is made due now "
    "and a worker sends it within seconds, with the same `webhook-id`. The attempt is "
    "logged with trigger `manual` and is not retried automatically if it fails. 409 "
    "while a worker is sending it, or when its partner is disabled or deleted.",
    responses={
        404: {"description": "No such partner delivery", **PROBLEM_CONTENT},
        409: {
            "description": "Being sent right now, or the partner cannot receive",
            **PROBLEM_CONTENT,
        },
    },
)
def replay(request: Request, delivery_id: DeliveryId) -> DeliveryView:
    try:
        view = delivery_log.replay(_db(request), delivery_id, api_operator(request))
    except DeliveryNotFound as exc:
        raise Problem(404, "Not found", str(exc)) from None
    except NotResendable as exc:
        raise Problem(409, "Cannot resend", str(exc)) from None
    return view

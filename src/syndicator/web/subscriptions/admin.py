"""Admin API for subscribers (bearer ``SYNDICATOR_ADMIN_TOKEN``): list, export, erase, and
resend a release's failed newsletters. The residents' side is the rest of this package.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from syndicator.logs import kv
from syndicator.spreadsheets import SafeWriter
from syndicator.subscriptions.erasure import erase, subscriber_ref
from syndicator.subscriptions.listing import (
    EXPORT_COLUMNS,
    SubscriberRow,
    audited_page,
    csv_cells,
    open_export,
)
from syndicator.subscriptions.resend import UnknownRelease, requeue_release_email
from syndicator.subscriptions.states import LiftResult, lift_suppression
from syndicator.web.admin import ADMIN_RESPONSES, AdminOnly, api_operator
from syndicator.web.ids import ReleaseId, SubscriberId, after_query
from syndicator.web.problem_route import VALIDATION_RESPONSES, ProblemRoute
from syndicator.web.problems import PROBLEM_CONTENT, Problem
from syndicator.web.state import AppState

__all__ = ["router"]

log = logging.getLogger("syndicator.subscriptions")

router = APIRouter(
    tags=["Admin: subscribers"],
    dependencies=[AdminOnly],
    responses=ADMIN_RESPONSES,
    route_class=ProblemRoute,
)


Status = Literal["pending", "active", "unsubscribed", "suppressed", "erased"]


class SubscriberOut(BaseModel):
    id: int
    email: str | None = Field(description="None once erased")
    status: Status
    mode: Literal["immediate", "daily", "weekly"]
    consent: str = Field(description="double_opt_in | import | import_consented")
    categories: list[str]
    departments: list[str]
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    suppressed_kind: Literal["hard_bounce", "soft_bounce", "complaint", "smtp"] | None = Field(
        None,
        description="Why nothing is mailed: a bounce that came back later (hard, or soft "
        "ones in a row), a spam complaint, or a 5.1.x answer during sending; None unless "
        "suppressed",
    )
    suppressed_at: datetime | None = None
    suppressed_reason: str | None = Field(
        None, description="The evidence in brief: the status code and the server's words"
    )


class SubscriberPage(BaseModel):
    items: list[SubscriberOut]
    next_after: int | None = Field(description="Pass as `after` for the next page; None: last")
    next: str | None = Field(description="The next page's URL; None on the last page")


class ResendAccepted(BaseModel):
    release_id: int
    requeued: int = Field(description="Email deliveries (failed or uncertain) due again now")


def _out(row: SubscriberRow) -> SubscriberOut:
    return SubscriberOut.model_validate(row, from_attributes=True)


def _page_rows(
    state: AppState, who: str, after: int, limit: int, status: str | None
) -> list[SubscriberRow]:
    with state.db.session() as session:
        return audited_page(session, who, "api page", after, limit, status)


_STATUS_QUERY = Query(None, description="Only subscribers in this status")


@router.get(
    "/api/subscribers",
    summary="List subscribers, in id order (keyset pages)",
    response_model=SubscriberPage,
    responses=VALIDATION_RESPONSES,
)
async def list_subscribers(
    request: Request,
    after: int = after_query("The last id of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
    status: Status | None = _STATUS_QUERY,
) -> SubscriberPage:
    state: AppState = request.app.state.syndicator
    who = api_operator(request)
    rows = await run_in_threadpool(_page_rows, state, who, after, limit, status)
    next_after = rows[-1].id if len(rows) == limit else None
    next_url = None
    if next_after is not None:
        next_url = str(request.url.include_query_params(after=next_after, limit=limit))
    return SubscriberPage(items=[_out(r) for r in rows], next_after=next_after, next=next_url)


def _csv_stream(rows: Iterator[SubscriberRow]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for n, row in enumerate(rows, start=1):
        writer.writerow(csv_cells(row))
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@router.get(
    "/api/subscribers.csv",
    summary="Export every subscriber as CSV (streamed)",
    description=(
        "Columns: " + ", ".join(EXPORT_COLUMNS) + ". Lists are joined with `;`. The first "
        "four columns are what `syndicator subscribers import` reads."
    ),
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_subscribers(
    request: Request, status: Status | None = _STATUS_QUERY
) -> StreamingResponse:
    state: AppState = request.app.state.syndicator
    # Audited (and committed) before the answer starts: no row leaves unaccounted for.
    rows = await run_in_threadpool(open_export, state.db, api_operator(request), "api csv", status)
    return StreamingResponse(
        _csv_stream(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="subscribers.csv"'},
    )


def _erase(state: AppState, subscriber_id: int, who: str) -> bool:
    with state.db.session() as session:
        return erase(session, subscriber_id, who)


@router.delete(
    "/api/subscribers/{subscriber_id}",
    summary="Erase a subscriber's personal data",
    description=(
        "The address and topics are removed, the status becomes `erased`, and the email "
        "attempts' replies (which may quote the address) are emptied. Ledger rows keep only "
        "`subscriber:<id>`. Erasing twice is harmless."
    ),
    status_code=204,
    responses={404: {**PROBLEM_CONTENT, "description": "No such subscriber"}},
)
async def erase_subscriber(request: Request, subscriber_id: SubscriberId) -> Response:
    state: AppState = request.app.state.syndicator
    if not await run_in_threadpool(_erase, state, subscriber_id, api_operator(request)):
        raise Problem(404, "Not Found", f"no subscriber {subscriber_id}")
    log.info(kv(msg="subscriber erased", target=subscriber_ref(subscriber_id)))
    return Response(status_code=204)


def _unsuppress(state: AppState, subscriber_id: int, who: str) -> LiftResult:
    with state.db.session() as session:
        return lift_suppression(session, subscriber_id, who)


@router.post(
    "/api/subscribers/{subscriber_id}/unsuppress",
    summary="Lift a suppression (a bounce or a complaint)",
    description=(
        "A suppressed subscriber (a hard bounce, repeated soft bounces, a complaint, or a "
        "5.1.x answer in the SMTP session) is sent nothing, not even a confirmation, until "
        "this is called or they ask to receive again from their preferences link. They "
        "become `unsubscribed`: asking to subscribe again sends a confirmation mail. "
        "Audited, with the kind it lifted."
    ),
    status_code=204,
    responses={
        404: {**PROBLEM_CONTENT, "description": "No such subscriber, or erased"},
        409: {**PROBLEM_CONTENT, "description": "The subscriber is not suppressed"},
    },
)
async def unsuppress_subscriber(request: Request, subscriber_id: SubscriberId) -> Response:
    state: AppState = request.app.state.syndicator
    who = api_operator(request)
    result = await run_in_threadpool(_unsuppress, state, subscriber_id, who)
    if result is LiftResult.GONE:
        raise Problem(404, "Not Found", f"no subscriber {subscriber_id}")
    if result is LiftResult.NOT_SUPPRESSED:
        raise Problem(409, "Conflict", f"subscriber {subscriber_id} is not suppressed")
    log.info(kv(msg="suppression lifted", target=subscriber_ref(subscriber_id)))
    return Response(status_code=204)


def _resend(state: AppState, release_id: int, who: str) -> int:
    with state.db.session() as session:
        return requeue_release_email(session, release_id, who)


@router.post(
    "/api/releases/{release_id}/resend-email",
    summary="Send a release's newsletter again to the recipients it failed for",
    description=(
        "Email deliveries of the release's events whose status is `failed` or `uncertain` "
        "are due again now (attempts logged as `manual`); the sweeper sends them within "
        "seconds. `uncertain` ones may have arrived already."
    ),
    status_code=202,
    response_model=ResendAccepted,
    responses={404: {**PROBLEM_CONTENT, "description": "No such release"}},
)
async def resend_email(request: Request, release_id: ReleaseId) -> ResendAccepted:
    state: AppState = request.app.state.syndicator
    try:
        count = await run_in_threadpool(_resend, state, release_id, api_operator(request))
    except UnknownRelease as exc:
        raise Problem(404, "Not Found", f"no release {release_id}") from exc
    log.info(kv(msg="email resend requested", release_id=release_id, requeued=count))
    return ResendAccepted(release_id=release_id, requeued=count)

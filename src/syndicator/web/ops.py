"""Liveness, readiness and the operators' status API."""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from syndicator.ops.metrics import CONTENT_TYPE, exposition
from syndicator.ops.readings import collect_readings
from syndicator.runtime.readiness import pipeline_causes, web_problems
from syndicator.runtime.status import collect_status
from syndicator.web.admin import ADMIN_RESPONSES, AdminOnly, bearer_matches
from syndicator.web.problems import Problem
from syndicator.web.state import AppState

__all__ = ["router"]

router = APIRouter(tags=["Operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


# What anyone may read of a failed check: its kind, never the error (which can name a
# host, a user or a database). A bearer of the admin or metrics token reads the error too.
_KINDS = {
    "database": "unreachable",
    "schema": "not migrated",
    "write_lock": "locked",
    "redis": "unreachable",
}
_READYZ_DESCRIPTION = (
    "For load balancers. Without a token, each check says `ok` or the kind of failure "
    "(`unreachable`, `not migrated`, `locked`); with `Authorization: Bearer` the admin or metrics "
    "token, `details` gives each error with its fix."
)


def _web_readiness(state: AppState, detailed: bool) -> tuple[bool, dict[str, Any]]:
    problems = {p.check: p.message for p in web_problems(state.db, state.redis)}
    database = next((c for c in ("database", "schema", "write_lock") if c in problems), None)
    checks = {
        "database": _KINDS[database] if database else "ok",
        "redis": _KINDS["redis"] if "redis" in problems else "ok",
    }
    answer: dict[str, Any] = {"status": "not ready" if problems else "ready", "checks": checks}
    if detailed and problems:
        answer["details"] = problems
    return not problems, answer


def _is_operator(state: AppState, authorization: str) -> bool:
    return bearer_matches(authorization, (state.settings.metrics_token, state.settings.admin_token))


@router.get(
    "/readyz",
    summary="The web tier can serve: database at the code's schema revision, Redis answers",
    description=_READYZ_DESCRIPTION
    + " Workers and beat are not the web tier's business: `/readyz/pipeline` tells whether "
    "events flow.",
    responses={503: {"description": "Not ready; `checks` names the kind of each failure"}},
)
async def readyz(request: Request, authorization: str = Header(default="")) -> JSONResponse:
    state: AppState = request.app.state.syndicator
    detailed = _is_operator(state, authorization)
    ready, answer = await run_in_threadpool(_web_readiness, state, detailed)
    return JSONResponse(answer, status_code=200 if ready else 503)


@router.get(
    "/readyz/pipeline",
    summary="Events flow: every queue has a live consumer that reaches the database, beat "
    "runs, and the outbox is not falling behind",
    description="Each cause is one sentence; with the admin or metrics token as a bearer, "
    "followed by the error behind it.",
    responses={503: {"description": "Something blocks the pipeline; `causes` names each"}},
)
async def readyz_pipeline(
    request: Request, authorization: str = Header(default="")
) -> JSONResponse:
    state: AppState = request.app.state.syndicator
    detailed = _is_operator(state, authorization)
    stale = state.settings.worker_stale_after
    causes = await run_in_threadpool(
        partial(pipeline_causes, stale_after=stale, detailed=detailed), state.db, state.redis
    )
    return JSONResponse(
        {"status": "flowing" if not causes else "blocked", "causes": causes},
        status_code=200 if not causes else 503,
    )


@router.get(
    "/admin/status",
    summary="Queue depths, outbox backlog and ledger counts",
    responses=ADMIN_RESPONSES,
    dependencies=[AdminOnly],
)
async def admin_status(request: Request) -> Any:
    state: AppState = request.app.state.syndicator
    stale = state.settings.worker_stale_after
    status = await run_in_threadpool(
        partial(collect_status, stale_after=stale), state.db, state.redis
    )
    return dataclasses.asdict(status)


@router.get(
    "/metrics",
    summary="Prometheus metrics: queues, oldest pending ages, attempts, pipeline health",
    description=(
        "The Prometheus text format. Send `Authorization: Bearer <SYNDICATOR_METRICS_TOKEN>` "
        "(read-only; the admin token works too): the numbers describe partners and "
        "subscribers, and the web tier also serves the public."
    ),
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}}, **ADMIN_RESPONSES},
)
async def metrics(request: Request, authorization: str = Header(default="")) -> Response:
    state: AppState = request.app.state.syndicator
    if not _is_operator(state, authorization):
        raise Problem(
            401,
            "Unauthorized",
            "send Authorization: Bearer <SYNDICATOR_METRICS_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    stale = state.settings.worker_stale_after
    readings = await run_in_threadpool(
        partial(
            collect_readings, stale_after=stale, consumer_window=state.settings.consumer_window
        ),
        state.db,
        state.redis,
    )
    return Response(exposition(readings), media_type=CONTENT_TYPE)

"""Liveness, readiness and the operators' status API."""

from __future__ import annotations

import dataclasses
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


def _web_readiness(state: AppState) -> tuple[bool, dict[str, Any]]:
    problems = {p.check: p.message for p in web_problems(state.db, state.redis)}
    checks = {
        "database": problems.get("database") or problems.get("schema") or "ok",
        "redis": problems.get("redis", "ok"),
    }
    return not problems, checks


@router.get(
    "/readyz",
    summary="The web tier can serve: database at the code's schema revision, Redis answers",
    description=(
        "For load balancers. Workers and beat are not the web tier's business: "
        "`/readyz/pipeline` tells whether events flow."
    ),
    responses={503: {"description": "Not ready; the body says which check failed"}},
)
async def readyz(request: Request) -> JSONResponse:
    ready, checks = await run_in_threadpool(_web_readiness, request.app.state.syndicator)
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get(
    "/readyz/pipeline",
    summary="Events flow: every queue has a live consumer that reaches the database, beat "
    "runs, and the outbox is not falling behind",
    responses={503: {"description": "Something blocks the pipeline; `causes` names each"}},
)
async def readyz_pipeline(request: Request) -> JSONResponse:
    state: AppState = request.app.state.syndicator
    causes = await run_in_threadpool(pipeline_causes, state.db, state.redis)
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
    status = await run_in_threadpool(collect_status, state.db, state.redis)
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
    accepted = (state.settings.metrics_token, state.settings.admin_token)
    if not bearer_matches(authorization, accepted):
        raise Problem(
            401,
            "Unauthorized",
            "send Authorization: Bearer <SYNDICATOR_METRICS_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    readings = await run_in_threadpool(collect_readings, state.db, state.redis)
    return Response(exposition(readings), media_type=CONTENT_TYPE)

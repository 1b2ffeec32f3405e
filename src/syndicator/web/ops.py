"""Liveness, readiness and the operators' status API."""

from __future__ import annotations

import dataclasses
import hmac
from typing import Any

import redis
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from syndicator.runtime.coordination import consuming_queues
from syndicator.runtime.status import collect_status
from syndicator.web.problems import problem
from syndicator.web.state import AppState

__all__ = ["router"]

router = APIRouter(tags=["Operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _readiness(state: AppState) -> tuple[bool, dict[str, Any]]:
    checks: dict[str, Any] = {}
    try:
        state.db.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        state.redis.ping()
        checks["redis"] = "ok"
        # A live PID proves nothing after a Redis restart (celery #8030): only a
        # heartbeat task a worker actually consumed counts.
        beats = consuming_queues(state.redis)
        checks["consuming"] = {
            q: ("ok" if t is not None else "no worker") for q, t in beats.items()
        }
    except redis.RedisError as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
        checks["consuming"] = "unknown"
    ready = (
        checks["database"] == "ok"
        and checks["redis"] == "ok"
        and all(v == "ok" for v in checks["consuming"].values())
    )
    return ready, checks


@router.get(
    "/readyz",
    summary="Database and Redis answer and a worker consumes every queue",
    responses={503: {"description": "Not ready; the body says which check failed"}},
)
async def readyz(request: Request) -> JSONResponse:
    ready, checks = await run_in_threadpool(_readiness, request.app.state.syndicator)
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get(
    "/admin/status",
    summary="Queue depths, outbox backlog and ledger counts",
    responses={401: {"description": "Missing or wrong admin token"}},
)
async def admin_status(request: Request, authorization: str = Header(default="")) -> Any:
    state: AppState = request.app.state.syndicator
    token = state.settings.admin_token
    given = authorization.removeprefix("Bearer ").strip()
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        return problem(
            401,
            "Unauthorized",
            "send Authorization: Bearer <SYNDICATOR_ADMIN_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    status = await run_in_threadpool(collect_status, state.db, state.redis)
    return dataclasses.asdict(status)

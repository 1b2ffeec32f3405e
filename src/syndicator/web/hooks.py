"""``POST /hooks/cms``: the CMS's only way in. Accepted means committed."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import redis
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DataError, OperationalError
from starlette.concurrency import run_in_threadpool

from syndicator.events.json_input import JsonInputError, parse_json
from syndicator.events.schema import CmsEvent
from syndicator.events.signing import SignatureError, verify
from syndicator.logs import kv
from syndicator.runtime.coordination import nudge_relay
from syndicator.store.intake import MAX_WEBHOOK_ID, accept_event
from syndicator.web.problems import PROBLEM_CONTENT, problem, validation_errors
from syndicator.web.state import AppState

__all__ = ["Accepted", "router"]

log = logging.getLogger("syndicator.intake")

router = APIRouter(tags=["CMS"])


class Accepted(BaseModel):
    event_id: str
    status: str
    queued: bool
    message: str


class _TooLarge(Exception):
    pass


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise _TooLarge
    return bytes(chunks)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CmsEvent"}}},
    },
    "parameters": [
        {
            "name": h,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": d,
        }
        for h, d in (
            ("webhook-id", "Unique message id; a repeat is acknowledged, not applied twice."),
            ("webhook-timestamp", "Unix seconds; more than 5 minutes off is rejected."),
            ("webhook-signature", "`v1,<base64 HMAC-SHA256>` entries (Standard Webhooks)."),
        )
    ],
}


@router.post(
    "/hooks/cms",
    status_code=202,
    response_model=Accepted,
    summary="Receive a signed release event from the CMS",
    description=(
        "Verifies the Standard Webhooks signature with `SYNDICATOR_CMS_SECRET`, validates the "
        "event and commits it before answering 202. Errors are RFC 9457 problem documents "
        "naming the field and the reason; on any error nothing is stored or queued."
    ),
    responses={
        400: {"description": "Malformed JSON, or a bad webhook-id header", **PROBLEM_CONTENT},
        401: {"description": "Missing, invalid or expired signature", **PROBLEM_CONTENT},
        413: {"description": "Body over 1 MiB", **PROBLEM_CONTENT},
        415: {"description": "Content type is not JSON", **PROBLEM_CONTENT},
        422: {"description": "Schema violation: the problem names each field", **PROBLEM_CONTENT},
        503: {"description": "Database unavailable: not stored, retry", **PROBLEM_CONTENT},
    },
    openapi_extra=_OPENAPI,
)
async def receive_cms_hook(request: Request) -> Response:
    state: AppState = request.app.state.syndicator
    settings = state.settings
    try:
        body = await _read_capped(request, settings.max_body_bytes)
    except _TooLarge:
        return problem(
            413, "Payload too large", f"the body exceeds {settings.max_body_bytes} bytes"
        )
    if not _is_json(request.headers.get("content-type", "")):
        return problem(
            415,
            "Unsupported media type",
            "send the event as application/json",
            [{"field": "content-type", "reason": "must be application/json"}],
        )
    if not settings.cms_secrets:
        return problem(503, "Not configured", "SYNDICATOR_CMS_SECRET is not set")
    try:
        # HMAC over up to 1 MiB per configured secret: off the event loop.
        webhook_id = await run_in_threadpool(
            verify, settings.cms_secrets, body, dict(request.headers)
        )
    except SignatureError as exc:
        return problem(
            401, "Invalid signature", str(exc), [{"field": "webhook-signature", "reason": str(exc)}]
        )
    except UnicodeDecodeError:
        return problem(400, "Malformed body", "the body is not UTF-8")
    if not 1 <= len(webhook_id) <= MAX_WEBHOOK_ID:
        reason = f"must be 1 to {MAX_WEBHOOK_ID} characters, got {len(webhook_id)}"
        return problem(400, "Invalid header", reason, [{"field": "webhook-id", "reason": reason}])
    try:
        document = parse_json(body)
    except JsonInputError as exc:
        return problem(400, "Malformed JSON", str(exc), [{"field": "(body)", "reason": str(exc)}])
    try:
        event = CmsEvent.model_validate(document)
    except ValidationError as exc:
        errors = validation_errors(exc)
        return problem(422, "Schema violation", f"{len(errors)} field(s) are invalid", errors)
    digest = hashlib.sha256(body).hexdigest()
    try:
        result = await run_in_threadpool(
            accept_event, state.db, event, webhook_id=webhook_id, body_sha256=digest
        )
    except OperationalError as exc:
        # Not accepted, so the CMS must send it again; say when.
        log.error(
            kv(
                msg="hook refused: database unavailable",
                webhook_id=webhook_id,
                error=type(exc).__name__,
            )
        )
        return problem(
            503,
            "Database unavailable",
            "the event was not stored; retry shortly",
            headers={"Retry-After": "5"},
        )
    except DataError as exc:
        # The schema's bounds should make this unreachable; if one is missed, the input
        # is still at fault, and a 5xx would make the sender retry it forever.
        reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        log.warning(
            kv(msg="hook refused: database rejected a value", webhook_id=webhook_id, reason=reason)
        )
        return problem(422, "Value out of range", reason, [{"field": "(body)", "reason": reason}])
    log.info(
        kv(
            msg="hook accepted",
            event_id=result.event_id,
            webhook_id=webhook_id,
            type=event.type.value,
            release_id=event.release.id,
            outcome=result.outcome,
        )
    )
    if result.queued:
        await run_in_threadpool(_nudge, state.redis)
    payload = Accepted(
        event_id=result.event_id,
        status=result.outcome,
        queued=result.queued,
        message=result.message,
    )
    return JSONResponse(payload.model_dump(), status_code=202)


def _nudge(client: redis.Redis) -> None:
    try:
        nudge_relay(client)
    except redis.RedisError as exc:
        # The event is committed; the relay's poll will find it when Redis is back.
        log.warning(kv(msg="relay nudge failed; event waits in the outbox", error=str(exc)))

"""``POST /hooks/cms``: the CMS's only way in. Accepted means committed."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import redis
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DataError, DBAPIError, TimeoutError
from starlette.concurrency import run_in_threadpool

from syndicator.events.json_input import JsonInputError, parse_json
from syndicator.events.schema import CmsEvent
from syndicator.events.signing import SignatureError, verify
from syndicator.intake.accept import MAX_WEBHOOK_ID, IntakeResult, accept_event
from syndicator.logs import kv
from syndicator.runtime.coordination import nudge_relay
from syndicator.store.outage import is_unavailable
from syndicator.web.hook_refusals import (
    BadSignature,
    BadWebhookId,
    BodyNotUtf8,
    BodyTooLarge,
    DatabaseUnavailable,
    MalformedJson,
    NotConfigured,
    NotJson,
    SchemaViolation,
    ValueOutOfRange,
)
from syndicator.web.problems import PROBLEM_CONTENT, validation_errors
from syndicator.web.state import AppState

__all__ = ["Accepted", "router"]

log = logging.getLogger("syndicator.intake")

router = APIRouter(tags=["CMS"])


class Accepted(BaseModel):
    event_id: str
    status: str
    queued: bool
    message: str


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise BodyTooLarge(limit)
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
    """Read, verify, parse and store; every refusal is a :class:`HookRefused` raised by
    the step that found it, answered by the app's problem handler."""
    state: AppState = request.app.state.syndicator
    settings = state.settings
    body = await _read_capped(request, settings.max_body_bytes)
    if not _is_json(request.headers.get("content-type", "")):
        raise NotJson
    webhook_id = await _verified_id(settings.cms_secrets, body, dict(request.headers))
    event = _parsed(body)
    result = await _accepted(state, event, webhook_id, hashlib.sha256(body).hexdigest())
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


async def _verified_id(secrets: Sequence[str], body: bytes, headers: dict[str, str]) -> str:
    """The ``webhook-id`` of a body signed with one of ``secrets``."""
    if not secrets:
        raise NotConfigured
    try:
        # HMAC over up to 1 MiB per configured secret: off the event loop.
        webhook_id = await run_in_threadpool(verify, secrets, body, headers)
    except SignatureError as exc:
        raise BadSignature(str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise BodyNotUtf8 from exc
    if not 1 <= len(webhook_id) <= MAX_WEBHOOK_ID:
        raise BadWebhookId(f"must be 1 to {MAX_WEBHOOK_ID} characters, got {len(webhook_id)}")
    return webhook_id


def _parsed(body: bytes) -> CmsEvent:
    try:
        document = parse_json(body)
    except JsonInputError as exc:
        raise MalformedJson(str(exc)) from exc
    try:
        return CmsEvent.model_validate(document)
    except ValidationError as exc:
        raise SchemaViolation(validation_errors(exc)) from exc


async def _accepted(state: AppState, event: CmsEvent, webhook_id: str, digest: str) -> IntakeResult:
    try:
        return await run_in_threadpool(
            accept_event, state.db, event, webhook_id=webhook_id, body_sha256=digest
        )
    except DataError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        log.warning(
            kv(msg="hook refused: database rejected a value", webhook_id=webhook_id, reason=reason)
        )
        raise ValueOutOfRange(reason) from exc
    except (DBAPIError, TimeoutError) as exc:
        if not is_unavailable(exc):
            raise
        log.error(
            kv(
                msg="hook refused: database unavailable",
                webhook_id=webhook_id,
                error=type(exc).__name__,
            )
        )
        raise DatabaseUnavailable from exc


def _nudge(client: redis.Redis) -> None:
    try:
        nudge_relay(client)
    except redis.RedisError as exc:
        # The event is committed; the relay's poll will find it when Redis is back.
        log.warning(kv(msg="relay nudge failed; event waits in the outbox", error=str(exc)))

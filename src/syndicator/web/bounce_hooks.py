"""``POST /hooks/bounces/<provider>``: bounces and complaints from the mail providers a city
relays through, each verified the provider's own way before a byte of it is believed.

Amazon SES (through SNS), Postmark, Mailgun and SendGrid. An unsigned or wrongly signed
call is a 401; a verified one whose payload is not the provider's documented shape is a
400 (not JSON) or 422, naming the field. Each event becomes a
:class:`~syndicator.bounces.feedback.Feedback` recorded in one transaction; a database that
is down answers 503, so the provider sends the call again. The request guard caps the body
(web/request_policy.py) and a per-client limit caps the calls.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from limits import parse_many
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from syndicator.bounces.feedback import Feedback, Ignored
from syndicator.bounces.providers import mailgun, postmark, replay, sendgrid, ses, sns
from syndicator.bounces.providers.common import Refused, Unverified, json_body
from syndicator.bounces.providers.sns_certs import SnsClient
from syndicator.bounces.recording import Outcome, RecordOutcome, record_feedback
from syndicator.config import Settings
from syndicator.logs import kv
from syndicator.ops.complaint_guard import after_reports
from syndicator.store.db import Database
from syndicator.web.hook_refusals import DatabaseUnavailable
from syndicator.web.problems import PROBLEM_CONTENT, Problem
from syndicator.web.state import AppState

__all__ = ["PROVIDERS", "close", "router"]

log = logging.getLogger("syndicator.bounces")

router = APIRouter(tags=["Bounces"])

PROVIDERS = ("ses", "postmark", "mailgun", "sendgrid")
_SETTING = {
    "ses": "SYNDICATOR_SES_TOPIC_ARNS",
    "postmark": "SYNDICATOR_POSTMARK_WEBHOOK_AUTH",
    "mailgun": "SYNDICATOR_MAILGUN_SIGNING_KEY",
    "sendgrid": "SYNDICATOR_SENDGRID_PUBLIC_KEY",
}
_TITLES = {
    400: "Malformed body",
    401: "Invalid signature",
    403: "Not accepted from this sender",
    422: "Invalid payload",
    503: "Unavailable",
}

Items = list[Feedback | Ignored]


class _Refusal(Problem):
    def __init__(self, refused: Refused, headers: dict[str, str] | None = None) -> None:
        title = _TITLES.get(refused.status, "Refused")
        errors = [{"field": refused.field, "reason": refused.reason}]
        super().__init__(refused.status, title, refused.reason, errors, headers)


@router.post(
    "/hooks/bounces/{provider}",
    summary="Receive bounces and complaints from a mail provider",
    description=(
        "`provider` is `ses` (Amazon SES through SNS: the SNS signature, its certificate's "
        "host and the topic are checked; a subscription confirmation is confirmed), "
        "`postmark` (HTTP basic auth in the webhook URL), `mailgun` (HMAC of timestamp and "
        "token, fresh and unused) or `sendgrid` (ECDSA signed event webhook). Each bounce or "
        "complaint is recorded before the answer; other events are acknowledged and ignored."
    ),
    responses={
        200: {"description": "Verified; each event recorded or ignored"},
        400: {"description": "The body is not JSON", **PROBLEM_CONTENT},
        401: {"description": "Missing or wrong signature or credentials", **PROBLEM_CONTENT},
        403: {"description": "Signed for an SNS topic not configured", **PROBLEM_CONTENT},
        404: {"description": "No such provider", **PROBLEM_CONTENT},
        422: {"description": "Not the provider's payload: names the field", **PROBLEM_CONTENT},
        429: {"description": "Too many calls from this client", **PROBLEM_CONTENT},
        503: {"description": "Not configured, or the database is down: retry", **PROBLEM_CONTENT},
    },
)
async def receive_bounce_hook(provider: str, request: Request) -> Response:
    state: AppState = request.app.state.syndicator
    settings = state.settings
    if provider not in PROVIDERS:
        raise Problem(404, "Not found", f"no provider {provider!r}: one of {', '.join(PROVIDERS)}")
    if not _configured(provider, settings):
        raise Problem(503, "Not configured", f"{_SETTING[provider]} is not set")
    await run_in_threadpool(_throttle, request, state, provider)
    body = await request.body()
    try:
        items, note = await _verified(provider, request, body, state)
    except Refused as refused:
        log.warning(
            kv(
                msg="bounce hook refused",
                provider=provider,
                field=refused.field,
                reason=refused.reason,
                status=refused.status,
            )
        )
        headers = None
        if provider == "postmark" and refused.status == 401:
            headers = {"WWW-Authenticate": 'Basic realm="bounces"'}
        raise _Refusal(refused, headers) from None
    recorded = await _recorded(state.db, items, settings, provider)
    ignored = [item.reason for item in items if isinstance(item, Ignored)]
    for reason in ignored:
        log.info(kv(msg="bounce hook event ignored", provider=provider, reason=reason))
    return JSONResponse(
        {"provider": provider, "recorded": recorded, "ignored": ignored, "note": note},
        status_code=200,
    )


def _configured(provider: str, settings: Settings) -> bool:
    return bool(
        {
            "ses": settings.ses_topic_arns,
            "postmark": settings.postmark_webhook_auth,
            "mailgun": settings.mailgun_signing_keys,
            "sendgrid": settings.sendgrid_public_key,
        }[provider]
    )


async def _verified(
    provider: str, request: Request, body: bytes, state: AppState
) -> tuple[Items, str | None]:
    settings = state.settings
    if provider == "ses":
        return await _ses(request, body, settings)
    if provider == "postmark":
        client = request.client.host if request.client else None
        postmark.check_origin(client, settings.postmark_allowed_networks)
        postmark.check_credentials(
            request.headers.get("authorization"), settings.postmark_webhook_auth or ""
        )
        return postmark.feedback_of(json_body(body)), None
    if provider == "mailgun":
        signed = mailgun.verify(json_body(body), settings.mailgun_signing_keys, time.time())
        if not await run_in_threadpool(_first_use, state.redis, signed.token):
            raise Unverified("signature.token", "already used: a replayed call")
        return mailgun.feedback_of(signed.event, signed.token, settings), None
    key = _sendgrid_key(request, settings)
    sendgrid.verify(
        key,
        request.headers.get(sendgrid.SIGNATURE_HEADER),
        request.headers.get(sendgrid.TIMESTAMP_HEADER),
        body,
    )
    return sendgrid.feedback_of(json_body(body)), None


async def _ses(request: Request, body: bytes, settings: Settings) -> tuple[Items, str | None]:
    message = sns.envelope(json_body(body))
    client = _sns_client(request, settings)
    sns.verify_signature(message, await client.certificate(message["SigningCertURL"]))
    sns.check_topic(message, settings.ses_topic_arns)
    if message["Type"] == "SubscriptionConfirmation":
        await client.confirm(message["SubscribeURL"])
        log.info(kv(msg="SNS subscription confirmed", topic=message["TopicArn"]))
        return [], "subscription confirmed"
    if message["Type"] == "UnsubscribeConfirmation":
        log.warning(kv(msg="SNS topic unsubscribed this hook", topic=message["TopicArn"]))
        return [], "unsubscribe noted"
    return ses.feedback_of(message["Message"], settings), None


def _sns_client(request: Request, settings: Settings) -> SnsClient:
    # One per app, made on first use: its certificate cache outlives a request.
    client: SnsClient | None = getattr(request.app.state, "sns_client", None)
    if client is None:
        client = SnsClient(settings.sns_cert_hosts, settings.sns_ca_file)
        request.app.state.sns_client = client
    return client


async def close(app: Any) -> None:
    """Close the SNS client a request may have made (the app's shutdown)."""
    client: SnsClient | None = getattr(app.state, "sns_client", None)
    if client is not None:
        await client.aclose()


def _sendgrid_key(request: Request, settings: Settings) -> Any:
    try:
        return sendgrid.public_key(settings.sendgrid_public_key or "")
    except ValueError as exc:
        raise Problem(503, "Not configured", f"SYNDICATOR_SENDGRID_PUBLIC_KEY is {exc}") from None


def _first_use(client: redis.Redis, token: str) -> bool:
    try:
        return replay.first_use(client, "mailgun", token, 2 * mailgun.TOLERANCE_SECONDS)
    except redis.RedisError as exc:
        # Without the record of used tokens a replay cannot be told apart: Mailgun retries.
        raise Problem(503, "Unavailable", "cannot check the token for replays; retry") from exc


def _throttle(request: Request, state: AppState, provider: str) -> None:
    limiter: MovingWindowRateLimiter | None = getattr(request.app.state, "bounce_limiter", None)
    if limiter is None:
        storage = RedisStorage(
            "redis://",
            connection_pool=state.redis.connection_pool,
            key_prefix="syndicator:limits",
        )
        limiter = MovingWindowRateLimiter(storage)
        request.app.state.bounce_limiter = limiter
    client = request.client.host if request.client else "unknown"
    try:
        for item in parse_many(state.settings.bounce_hook_limits):
            if not limiter.hit(item, "bounce-hook", provider, client):
                raise Problem(
                    429,
                    "Too many requests",
                    f"more than {item} calls from {client}",
                    headers={"Retry-After": str(item.get_expiry())},
                )
    except redis.RedisError as exc:
        # The limit protects the database from a flood; without Redis the call still counts.
        log.warning(kv(msg="bounce hook limit unchecked", error=type(exc).__name__))


async def _recorded(
    db: Database, items: Items, settings: Settings, provider: str
) -> list[dict[str, object]]:
    feedback = [item for item in items if isinstance(item, Feedback)]
    if not feedback:
        return []
    try:
        outcomes = await run_in_threadpool(_record_all, db, feedback, settings)
    except OperationalError as exc:
        log.error(kv(msg="bounce hook refused: database unavailable", provider=provider))
        raise DatabaseUnavailable from exc
    recorded = [
        i.kind for i, o in zip(feedback, outcomes, strict=True) if o.outcome is Outcome.RECORDED
    ]
    # Kept: a complaint among them may pause the newsletters now, not at beat's next check.
    await run_in_threadpool(after_reports, db, settings, recorded)
    for item, outcome in zip(feedback, outcomes, strict=True):
        log.info(
            kv(
                msg="bounce hook feedback",
                provider=provider,
                kind=item.kind,
                dedupe_key=item.dedupe_key,
                outcome=outcome.outcome.value,
                action=outcome.action.value,
            )
        )
    return [outcome.as_dict() for outcome in outcomes]


def _record_all(db: Database, feedback: list[Feedback], settings: Settings) -> list[RecordOutcome]:
    # One transaction: a provider's batch is recorded whole or not at all, then retried.
    with db.session() as session:
        return [record_feedback(session, item, settings) for item in feedback]

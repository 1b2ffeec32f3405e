"""What the subscription API, the form and the link pages share: reading a body, the
preferences in it, the rate limit, starting a subscription and mailing after the answer.

The domain rules live in :mod:`syndicator.subscriptions`; these helpers only call them
(blocking work in a worker thread) and turn refusals into :class:`Problem` answers.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl

import redis
from fastapi import BackgroundTasks, Request
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from syndicator.i18n import DEFAULT_LANGUAGE
from syndicator.logs import kv
from syndicator.store.taxonomy import KnownTopics, known_topics
from syndicator.subscriptions import states
from syndicator.subscriptions.addresses import address_key, domain_key
from syndicator.subscriptions.confirmation import send_with_retries
from syndicator.subscriptions.erasure import subscriber_ref
from syndicator.subscriptions.preferences import (
    InvalidPreference,
    Preferences,
    clean_mode,
    clean_topics,
)
from syndicator.subscriptions.throttle import SubscribeThrottle, domain_limits
from syndicator.subscriptions.tokens import TokenKeysMissing
from syndicator.web.problems import Problem
from syndicator.web.state import AppState

__all__ = [
    "MAX_FORM_BYTES",
    "check_rate",
    "known",
    "known_topic_names",
    "mail_later",
    "preferences",
    "read_fields",
    "require_token_keys",
    "start_subscription",
]

log = logging.getLogger("syndicator.subscriptions")

# A subscribe request is a few hundred bytes; anything far bigger is not a resident.
MAX_FORM_BYTES = 64 * 1024


# --- The body -----------------------------------------------------------------------------


async def read_fields(request: Request) -> dict[str, Any]:
    """The body as ``{field: value or list}``, from JSON or a urlencoded form."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise Problem(413, "Content Too Large", f"the body must be at most {MAX_FORM_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise Problem(413, "Content Too Large", f"at most {MAX_FORM_BYTES} bytes")
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and "+json" in media):
        return _json_fields(bytes(body))
    if media in ("application/x-www-form-urlencoded", ""):
        return _form_fields(bytes(body))
    raise Problem(
        415,
        "Unsupported Media Type",
        "send application/json or application/x-www-form-urlencoded",
        errors=[{"field": "(body)", "reason": f"media type {media!r} is not accepted"}],
    )


def _json_fields(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(
            400, "Bad Request", "the body is not JSON", [{"field": "(body)", "reason": str(exc)}]
        ) from exc
    if not isinstance(value, dict):
        raise Problem(
            422,
            "Unprocessable Content",
            "the body must be a JSON object",
            [{"field": "(body)", "reason": "expected an object"}],
        )
    return value


def _form_fields(body: bytes) -> dict[str, Any]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=500)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Problem(
            400,
            "Bad Request",
            "the form is not UTF-8 urlencoded",
            [{"field": "(body)", "reason": str(exc)}],
        ) from exc
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if name in ("categories", "departments"):
            fields.setdefault(name, []).append(value)
        else:
            fields[name] = value
    return fields


def _topic_list(fields: dict[str, Any], name: str) -> list[Any]:
    value = fields.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidPreference(name, "must be a list of names")
    return value


def preferences(fields: dict[str, Any]) -> Preferences:
    """The mode and topics a body asks for; :class:`InvalidPreference` names a bad field."""
    return Preferences(
        mode=clean_mode(fields.get("mode")),
        categories=clean_topics("categories", _topic_list(fields, "categories")),
        departments=clean_topics("departments", _topic_list(fields, "departments")),
    )


# --- What the site knows ------------------------------------------------------------------


def require_token_keys(state: AppState) -> None:
    """Without a key no link can be signed or checked: an operator's fix, said plainly."""
    if not state.settings.token_keys:
        raise Problem(503, "Service Unavailable", str(TokenKeysMissing()))


def known(state: AppState) -> KnownTopics:
    with state.db.read_session() as session:
        return known_topics(session)


def known_topic_names(state: AppState) -> tuple[list[str], list[str]]:
    """(categories, departments), each sorted by name, for a form's checkboxes."""
    topics = known(state)
    return topics.sorted("category"), topics.sorted("department")


# --- Rate limit, subscription, mail -------------------------------------------------------


def _throttle(request: Request) -> SubscribeThrottle:
    """One per app, built on first use over the app's Redis pool."""
    throttle: SubscribeThrottle | None = getattr(request.app.state, "subscribe_throttle", None)
    if throttle is None:
        state: AppState = request.app.state.syndicator
        per_domain = domain_limits(state.settings.subscribe_domain_limits)
        throttle = SubscribeThrottle(state.redis, per_domain)
        request.app.state.subscribe_throttle = throttle
    return throttle


def check_rate(request: Request, address: str) -> None:
    """429 with Retry-After past a limit; 503 when the counters cannot be reached."""
    client = request.client.host if request.client else "unknown"
    try:
        refused = _throttle(request).hit(address_key(address), client, domain_key(address))
    except redis.RedisError as exc:
        # Fail closed: without the shared counters nothing stops a mail bomb.
        log.error(kv(msg="subscribe rate limiter unavailable", error=type(exc).__name__))
        raise Problem(
            503, "Service Unavailable", "try again shortly", headers={"Retry-After": "30"}
        ) from exc
    if refused is not None:
        raise Problem(
            429,
            "Too Many Requests",
            f"too many subscription requests for this {refused.scope}; "
            f"try again in {refused.retry_after} seconds",
            headers={"Retry-After": str(refused.retry_after)},
        )


def _subscribe(
    state: AppState, address: str, prefs: Preferences, language: str
) -> states.SubscribeResult:
    for attempt in (1, 2):
        try:
            with state.db.session() as session:
                return states.request_subscription(session, address, prefs, language)
        except IntegrityError:
            # Two requests for a new address at once: the other one inserted it first.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def mail_later(
    background: BackgroundTasks,
    state: AppState,
    subscriber_id: int,
    mail: states.MailToSend,
    request_id: int = 0,
) -> None:
    """Mail after the answer: its timing must not depend on the mail server."""
    background.add_task(
        send_with_retries, state.settings, state.db, subscriber_id, mail, request_id=request_id
    )


async def start_subscription(
    state: AppState,
    background: BackgroundTasks,
    address: str,
    prefs: Preferences,
    language: str = DEFAULT_LANGUAGE,
    **log_fields: object,
) -> None:
    """Record the request (double opt-in) and mail the link or the note after the answer,
    in the subscriber's language. The caller has checked the address, the topics, the
    language, the token keys and the rate."""
    result = await run_in_threadpool(_subscribe, state, address, prefs, language)
    log.info(
        kv(
            msg="subscribe requested",
            target=subscriber_ref(result.subscriber_id),
            mail=result.mail.value,
            created=result.created,
            language=language,
            **log_fields,
        )
    )
    mail_later(background, state, result.subscriber_id, result.mail, result.request_id)

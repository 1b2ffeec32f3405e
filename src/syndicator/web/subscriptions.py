"""HTTP API and pages: subscribing, confirming, preferences, one-click unsubscribe.
The admin side (list, export, erase, resend) is :mod:`syndicator.web.subscribers_admin`.

The domain rules live in :mod:`syndicator.subscriptions`; this module reads requests,
calls them in a worker thread and renders the answer.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal
from urllib.parse import parse_qsl

import redis
from fastapi import APIRouter, BackgroundTasks, Path, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from syndicator.logs import kv
from syndicator.store.taxonomy import KnownTopics, known_topics
from syndicator.subscriptions import states
from syndicator.subscriptions.addresses import (
    InvalidAddress,
    address_key,
    domain_key,
    normalise_address,
)
from syndicator.subscriptions.confirmation import send_with_retries
from syndicator.subscriptions.erasure import subscriber_ref
from syndicator.subscriptions.preferences import (
    InvalidPreference,
    Preferences,
    clean_mode,
    clean_topics,
    load_preferences,
    unknown_topics,
)
from syndicator.subscriptions.states import ConfirmResult
from syndicator.subscriptions.throttle import SubscribeThrottle, domain_limits
from syndicator.subscriptions.tokens import (
    Purpose,
    TokenExpired,
    TokenInvalid,
    TokenKeysMissing,
    preferences_url,
    read_link,
)
from syndicator.web.csrf import SameSiteForm
from syndicator.web.html.subscribe import FIELD_MESSAGES
from syndicator.web.html.subscription_pages import (
    Button,
    Link,
    render_message,
    render_preferences,
)
from syndicator.web.problem_route import ProblemRoute
from syndicator.web.problems import PROBLEM_CONTENT, FieldError, Problem
from syndicator.web.state import AppState

__all__ = ["LEFT_HEADING", "router"]

log = logging.getLogger("syndicator.subscriptions")

router = APIRouter(route_class=ProblemRoute)

# What the unsubscribe link shows once the resident has left, however they left: the
# mail's own words ("수신 거부"), never the button again.
LEFT_HEADING = "수신이 해지되었습니다"

# A subscribe request is a few hundred bytes; anything far bigger is not a resident.
MAX_FORM_BYTES = 64 * 1024
# Token pages: never cached, never indexed, and the token never leaks in a Referer.
_PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}
_HTML: dict[str, Any] = {"content": {"text/html": {}}}


# --- Request bodies ---------------------------------------------------------------------


class SubscribeRequest(BaseModel):
    """What `POST /subscriptions` reads, as JSON or form fields (lists repeat the field)."""

    email: str = Field(examples=["resident@example.org"])
    mode: Literal["immediate", "daily", "weekly"] = "immediate"
    categories: list[str] = Field(default_factory=list, examples=[["경제"]])
    departments: list[str] = Field(default_factory=list, examples=[[]])


class SubscribeAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    message: str


_ACCEPTED_MESSAGE = (
    "요청을 받았습니다. 입력하신 주소로 안내 메일을 보냅니다. "
    "메일의 링크를 눌러 구독을 확인해 주세요."
)

# The handler reads JSON or a form itself, so the schema is given inline (no $ref to add).
_SUBSCRIBE_SCHEMA = SubscribeRequest.model_json_schema()
_FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": _SUBSCRIBE_SCHEMA,
                "example": {
                    "email": "resident@example.org",
                    "mode": "immediate",
                    "categories": ["경제"],
                    "departments": [],
                },
            },
            "application/x-www-form-urlencoded": {"schema": _SUBSCRIBE_SCHEMA},
        },
    }
}


async def _read_fields(request: Request) -> dict[str, Any]:
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


def _preferences(fields: dict[str, Any]) -> Preferences:
    return Preferences(
        mode=clean_mode(fields.get("mode")),
        categories=clean_topics("categories", _topic_list(fields, "categories")),
        departments=clean_topics("departments", _topic_list(fields, "departments")),
    )


def _validated(fields: dict[str, Any]) -> tuple[str, Preferences]:
    errors: list[FieldError] = []
    address, prefs = "", Preferences()
    try:
        address = normalise_address(fields.get("email"))
    except InvalidAddress as exc:
        errors.append({"field": "email", "reason": exc.reason})
    try:
        prefs = _preferences(fields)
    except InvalidPreference as exc:
        errors.append({"field": exc.field, "reason": exc.reason})
    if errors:
        raise Problem(422, "Invalid subscription", "the subscription request is not valid", errors)
    return address, prefs


def _require_known_topics(state: AppState, prefs: Preferences) -> None:
    """422 naming each field and the topics in it that no release has used."""
    unknown = unknown_topics(prefs, _known(state))
    if unknown:
        raise Problem(
            422,
            "Invalid subscription",
            "the subscription request is not valid",
            [{"field": error.field, "reason": error.reason} for error in unknown],
        )


# --- Subscribe ----------------------------------------------------------------------------


def _throttle(request: Request) -> SubscribeThrottle:
    """One per app, built on first use over the app's Redis pool."""
    throttle: SubscribeThrottle | None = getattr(request.app.state, "subscribe_throttle", None)
    if throttle is None:
        state: AppState = request.app.state.syndicator
        per_domain = domain_limits(state.settings.subscribe_domain_limits)
        throttle = SubscribeThrottle(state.redis, per_domain)
        request.app.state.subscribe_throttle = throttle
    return throttle


def _check_rate(request: Request, address: str) -> None:
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


def _subscribe(state: AppState, address: str, prefs: Preferences) -> states.SubscribeResult:
    for attempt in (1, 2):
        try:
            with state.db.session() as session:
                return states.request_subscription(session, address, prefs)
        except IntegrityError:
            # Two requests for a new address at once: the other one inserted it first.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


@router.post(
    "/subscriptions",
    status_code=202,
    tags=["Subscriptions"],
    summary="Subscribe an address (double opt-in)",
    description=(
        "Takes JSON or a urlencoded form (`categories` and `departments` repeat). Empty or "
        "absent lists mean every release. The answer is the same whether or not the address "
        "was already subscribed: a new or pending address is sent a confirmation link "
        "(valid 72 hours), an active one a note with its preferences link. Rate-limited per "
        "address and per client (429 with Retry-After)."
    ),
    response_model=SubscribeAccepted,
    responses={
        202: {"content": {"text/html": {}}},
        400: {**PROBLEM_CONTENT, "description": "The body is not JSON, or not a UTF-8 form"},
        413: PROBLEM_CONTENT,
        415: PROBLEM_CONTENT,
        422: {**PROBLEM_CONTENT, "description": "A field is not valid; `errors` names it"},
        429: {**PROBLEM_CONTENT, "description": "Too many requests; see Retry-After"},
        503: {**PROBLEM_CONTENT, "description": "The rate limiter's Redis is unavailable"},
    },
    openapi_extra=_FORM_BODY,
)
async def subscribe(request: Request, background: BackgroundTasks) -> Response:
    state: AppState = request.app.state.syndicator
    _require_token_keys(state)
    address, prefs = _validated(await _read_fields(request))
    await run_in_threadpool(_require_known_topics, state, prefs)
    await run_in_threadpool(_check_rate, request, address)
    result = await run_in_threadpool(_subscribe, state, address, prefs)
    log.info(
        kv(
            msg="subscribe requested",
            target=subscriber_ref(result.subscriber_id),
            mail=result.mail.value,
            created=result.created,
        )
    )
    # After the answer: its timing must not depend on the mail server either.
    background.add_task(
        send_with_retries,
        state.settings,
        state.db,
        result.subscriber_id,
        result.mail,
        request_id=result.request_id,
    )
    if _wants_html(request):
        html = render_message(state.settings, "메일을 확인해 주세요", [_ACCEPTED_MESSAGE])
        return HTMLResponse(html, status_code=202)
    return JSONResponse(SubscribeAccepted(message=_ACCEPTED_MESSAGE).model_dump(), status_code=202)


# --- Token pages --------------------------------------------------------------------------


class _BadLink(Exception):
    def __init__(self, status: int, heading: str, text: str) -> None:
        self.status, self.heading, self.text = status, heading, text


def _require_token_keys(state: AppState) -> None:
    """Without a key no link can be signed or checked: an operator's fix, said plainly."""
    if not state.settings.token_keys:
        raise Problem(503, "Service Unavailable", str(TokenKeysMissing()))


def _link(state: AppState, purpose: Purpose, token: str) -> tuple[int, int]:
    """(subscriber id, number) from a genuine token: the request a confirm token confirms,
    or the links version of a preferences or unsubscribe token."""
    _require_token_keys(state)
    try:
        return read_link(state.settings, purpose, token)
    except TokenExpired as exc:
        raise _BadLink(
            410,
            "링크가 만료되었습니다",
            "확인 링크는 72시간 동안만 쓸 수 있습니다. 구독을 다시 신청해 주세요.",
        ) from exc
    except TokenInvalid as exc:
        raise _BadLink(
            400,
            "잘못된 링크입니다",
            "링크가 손상되었거나 더 이상 쓸 수 없습니다. 메일에 있는 링크 전체를 "
            "그대로 열어 주세요.",
        ) from exc


def _stale(state: AppState) -> _BadLink:
    return _BadLink(
        410,
        "더 이상 쓸 수 없는 링크입니다",
        "새 링크가 발급되었거나 구독을 해지하여 이 링크는 쓸 수 없습니다. 새 수신 설정 "
        f"링크는 {state.settings.base_url}/preferences 에서 받을 수 있습니다.",
    )


def _link_state(state: AppState, subscriber_id: int, version: int) -> tuple[bool, str] | None:
    """Whether the link's version is the subscriber's, and their status; None if gone."""
    with state.db.session() as session:
        subscriber = states.live_subscriber(session, subscriber_id)
        if subscriber is None:
            return None
        return subscriber.links_version == version, subscriber.status


async def _current_link(state: AppState, purpose: Purpose, token: str) -> tuple[int, str]:
    """A preferences link's subscriber id and status; a revoked link is a clear 410."""
    subscriber_id, version = _link(state, purpose, token)
    found = await run_in_threadpool(_link_state, state, subscriber_id, version)
    if found is None:
        raise _gone()
    current, status = found
    if not current:
        raise _stale(state)
    return subscriber_id, status


def _page(state: AppState, html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=_PRIVATE_HEADERS)


def _bad_link_page(state: AppState, bad: _BadLink) -> HTMLResponse:
    links = [Link(state.settings.base_url + "/", "처음으로")]
    return _page(
        state, render_message(state.settings, bad.heading, [bad.text], links=links), bad.status
    )


def _gone() -> _BadLink:
    return _BadLink(
        410, "구독 정보가 없습니다", "이 구독은 삭제되었습니다. 필요하면 새로 신청해 주세요."
    )


_TOKEN = Path(description="The signed token from the mail", max_length=1000)
_TOKEN_PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _HTML,
    400: {**_HTML, "description": "Tampered or unknown token"},
    410: {**_HTML, "description": "Expired token, or the subscriber was erased"},
}


@router.get(
    "/subscriptions/confirm/{token}",
    tags=["Subscriptions"],
    summary="Confirm page: a button, never a confirmation by itself",
    description="Mail scanners follow links, so only the form's POST confirms.",
    response_class=HTMLResponse,
    responses=_TOKEN_PAGE_RESPONSES,
)
async def confirm_page(request: Request, token: str = _TOKEN) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    try:
        _link(state, "confirm", token)
    except _BadLink as bad:
        return _bad_link_page(state, bad)
    return _button_page(request, "구독 확인", "뉴스레터 구독을 확인하려면")


def _button_page(request: Request, title: str, to_do: str) -> HTMLResponse:
    """What a link in a mail opens: a page whose button POSTs back, since mail scanners
    follow links and a GET must never act."""
    state: AppState = request.app.state.syndicator
    html = render_message(
        state.settings,
        title,
        [f"{state.settings.site_title} {to_do} 아래 단추를 눌러 주세요."],
        button=Button(action=str(request.url.path), label=title),
    )
    return _page(state, html)


def _confirm(state: AppState, subscriber_id: int, request_id: int) -> tuple[ConfirmResult, int]:
    """The result, and the subscriber's links version for the page's preferences link."""
    with state.db.session() as session:
        result = states.confirm(session, subscriber_id, request_id)
        subscriber = states.live_subscriber(session, subscriber_id)
        return result, subscriber.links_version if subscriber else 0


@router.post(
    "/subscriptions/confirm/{token}",
    tags=["Subscriptions"],
    summary="Confirm a subscription (activates it with what that request asked for)",
    dependencies=[SameSiteForm],  # CSRF: a POST from another site is refused
    response_class=HTMLResponse,
    responses={**_TOKEN_PAGE_RESPONSES, 409: {**_HTML, "description": "Unsubscribed since"}},
)
async def confirm_subscription(request: Request, token: str = _TOKEN) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    try:
        subscriber_id, request_id = _link(state, "confirm", token)
        result, version = await run_in_threadpool(_confirm, state, subscriber_id, request_id)
        if result is ConfirmResult.GONE:
            raise _gone()
        if result is ConfirmResult.NOT_PENDING:
            raise _BadLink(
                409,
                "구독을 확인할 수 없습니다",
                "이 링크 뒤에 구독을 해지했거나 새로 신청했습니다. 가장 최근에 받은 확인 "
                "메일의 링크를 쓰거나, 새로 신청해 주세요.",
            )
    except _BadLink as bad:
        return _bad_link_page(state, bad)
    log.info(
        kv(msg="subscription confirmed", target=subscriber_ref(subscriber_id), result=result.value)
    )
    html = render_message(
        state.settings,
        "구독이 확인되었습니다",
        ["이제 새 보도자료를 메일로 받습니다. 받는 방식과 분야는 언제든 바꿀 수 있습니다."],
        links=[Link(preferences_url(state.settings, subscriber_id, version), "수신 설정 바꾸기")],
    )
    return _page(state, html)


def _known(state: AppState) -> KnownTopics:
    with state.db.read_session() as session:
        return known_topics(session)


def _known_topics(state: AppState) -> tuple[list[str], list[str]]:
    """(categories, departments), each sorted by name, for a form's checkboxes."""
    known = _known(state)
    return known.sorted("category"), known.sorted("department")


def _preferences_view(state: AppState, subscriber_id: int) -> tuple[Preferences, str] | None:
    with state.db.session() as session:
        subscriber = states.live_subscriber(session, subscriber_id)
        if subscriber is None:
            return None
        return load_preferences(session, subscriber), subscriber.status


async def _preferences_page(
    request: Request, state: AppState, subscriber_id: int, notice: str | None = None
) -> HTMLResponse:
    view = await run_in_threadpool(_preferences_view, state, subscriber_id)
    if view is None:
        raise _gone()
    prefs, status = view
    categories, departments = await run_in_threadpool(_known_topics, state)
    html = render_preferences(
        state.settings, str(request.url.path), prefs, status, categories, departments, notice
    )
    return _page(state, html)


@router.get(
    "/preferences/{token}",
    tags=["Subscriptions"],
    summary="Preferences page: mode, categories, departments, or leave",
    response_class=HTMLResponse,
    responses=_TOKEN_PAGE_RESPONSES,
)
async def preferences_page(request: Request, token: str = _TOKEN) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    try:
        subscriber_id, _ = await _current_link(state, "preferences", token)
        return await _preferences_page(request, state, subscriber_id)
    except _BadLink as bad:
        return _bad_link_page(state, bad)


def _checked_preferences(state: AppState, fields: dict[str, Any]) -> Preferences:
    """The form's preferences, or a 422 page saying in Korean which field is wrong (and
    which names, for a topic no release has used)."""
    try:
        prefs = _preferences(fields)
        unknown = unknown_topics(prefs, _known(state))
    except InvalidPreference as exc:
        said = FIELD_MESSAGES.get(exc.field, "입력한 값을 다시 확인해 주세요.")
        raise _BadLink(422, "설정을 저장하지 못했습니다", said) from exc
    if unknown:
        said = " ".join(
            f"{FIELD_MESSAGES[error.field]} ({error.reason.partition(': ')[2]})"
            for error in unknown
        )
        raise _BadLink(422, "설정을 저장하지 못했습니다", said)
    return prefs


def _save_preferences(
    state: AppState, subscriber_id: int, prefs: Preferences
) -> tuple[states.PreferencesResult, int]:
    with state.db.session() as session:
        return states.change_preferences(session, subscriber_id, prefs)


def _unsubscribe(state: AppState, subscriber_id: int) -> bool:
    with state.db.session() as session:
        return states.unsubscribe(session, subscriber_id)


@router.post(
    "/preferences/{token}",
    tags=["Subscriptions"],
    summary="Change preferences, or leave (`action=unsubscribe`)",
    dependencies=[SameSiteForm],  # CSRF: a POST from another site is refused
    description=(
        "A urlencoded form (or JSON): `action` is `save` (default) or `unsubscribe`; "
        "`mode`, and `categories` / `departments` repeated. No topics means every release. "
        "A subscriber who is not receiving newsletters is sent a confirmation mail instead: "
        "coming back is confirmed from the mailbox, never done on the spot."
    ),
    response_class=HTMLResponse,
    responses={**_TOKEN_PAGE_RESPONSES, 422: {**_HTML, "description": "A field is not valid"}},
)
async def change_preferences(
    request: Request, background: BackgroundTasks, token: str = _TOKEN
) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    try:
        subscriber_id, _ = await _current_link(state, "preferences", token)
        fields = await _read_fields(request)
        if fields.get("action") == "unsubscribe":
            return await _unsubscribed_page(state, subscriber_id)
        prefs = await run_in_threadpool(_checked_preferences, state, fields)
        result, request_id = await run_in_threadpool(_save_preferences, state, subscriber_id, prefs)
        log.info(
            kv(msg="preferences changed", target=subscriber_ref(subscriber_id), result=result.value)
        )
        if result is states.PreferencesResult.GONE:
            raise _gone()
        if result is states.PreferencesResult.CONFIRM:
            background.add_task(
                send_with_retries,
                state.settings,
                state.db,
                subscriber_id,
                states.MailToSend.CONFIRM,
                request_id=request_id,
            )
            return _message_page(
                state,
                "메일을 확인해 주세요",
                "다시 받으려면 확인이 필요합니다. 확인 메일의 링크를 누르면 이 설정으로 "
                "구독이 시작됩니다.",
            )
        if result is states.PreferencesResult.SUPPRESSED:
            return _message_page(
                state,
                "설정을 저장하지 못했습니다",
                "이 주소로 보낸 메일이 반송되어 발송을 멈추었습니다. 관리자에게 문의해 주세요.",
            )
        return await _preferences_page(request, state, subscriber_id, "설정을 저장했습니다.")
    except _BadLink as bad:
        return _bad_link_page(state, bad)


def _message_page(state: AppState, heading: str, text: str, status: int = 200) -> HTMLResponse:
    return _page(state, render_message(state.settings, heading, [text]), status)


async def _unsubscribed_page(state: AppState, subscriber_id: int) -> HTMLResponse:
    found = await run_in_threadpool(_unsubscribe, state, subscriber_id)
    log.info(kv(msg="unsubscribed", target=subscriber_ref(subscriber_id), found=found))
    return _message_page(
        state, LEFT_HEADING, "더 이상 뉴스레터를 보내지 않습니다. 그동안 구독해 주셔서 감사합니다."
    )


async def _unsubscribe_link(state: AppState, token: str) -> tuple[int, bool]:
    """(subscriber id, whether they left already). An unsubscribe link revoked because
    they left still answers that they left (one-click may be pressed twice); revoked for
    any other reason it is a 410."""
    subscriber_id, version = _link(state, "unsubscribe", token)
    found = await run_in_threadpool(_link_state, state, subscriber_id, version)
    if found is None:
        raise _gone()
    current, status = found
    if status == "unsubscribed":
        return subscriber_id, True
    if not current:
        raise _stale(state)
    return subscriber_id, False


@router.get(
    "/unsubscribe/{token}",
    tags=["Subscriptions"],
    summary="Unsubscribe page: a button (a GET never unsubscribes)",
    response_class=HTMLResponse,
    responses=_TOKEN_PAGE_RESPONSES,
)
async def unsubscribe_page(request: Request, token: str = _TOKEN) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    try:
        _, left = await _unsubscribe_link(state, token)
    except _BadLink as bad:
        return _bad_link_page(state, bad)
    if left:
        # Left already (one-click from the mail client, or pressed before): no button.
        return _message_page(state, LEFT_HEADING, "이 주소로는 더 이상 뉴스레터를 보내지 않습니다.")
    return _button_page(request, "구독 해지", "뉴스레터를 그만 받으려면")


@router.post(
    "/unsubscribe/{token}",
    tags=["Subscriptions"],
    summary="One-click unsubscribe (RFC 8058)",
    description=(
        "Takes effect at once. Needs no cookie, session or CSRF token; any body is accepted "
        "(mail clients send `List-Unsubscribe=One-Click`). Pressing it twice is harmless. "
        "Leaving revokes every preferences and unsubscribe link mailed before."
    ),
    response_class=HTMLResponse,
    responses={
        200: _HTML,
        400: {**_HTML, "description": "Tampered or unknown token"},
        410: {**_HTML, "description": "A revoked link, or the subscriber was erased"},
    },
)
async def one_click_unsubscribe(request: Request, token: str = _TOKEN) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    try:
        subscriber_id, _ = await _unsubscribe_link(state, token)
    except _BadLink as bad:
        return _bad_link_page(state, bad)
    return await _unsubscribed_page(state, subscriber_id)


# --- "Send me a new link" -----------------------------------------------------------------


@router.get(
    "/preferences",
    tags=["Subscriptions"],
    summary="Ask for a new preferences link (a form)",
    response_class=HTMLResponse,
    responses={200: _HTML},
)
async def new_link_form(request: Request) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    return _page(state, _new_link_html(state))


def _new_link_html(state: AppState, notice: str | None = None) -> str:
    paragraphs = [
        "구독한 이메일 주소를 입력하면 새 수신 설정 링크를 메일로 보냅니다. 전에 받은 "
        "수신 설정 링크와 수신 거부 링크는 더 이상 쓸 수 없게 됩니다."
    ]
    return render_message(
        state.settings,
        "수신 설정 링크 받기",
        [notice, *paragraphs] if notice else paragraphs,
        button=Button(action="/preferences", label="새 링크 받기", email_field=True),
    )


def _new_links(state: AppState, address: str) -> tuple[int, int] | None:
    with state.db.session() as session:
        return states.new_links(session, address)


_SENT_IF_SUBSCRIBED = (
    "입력하신 주소가 구독 중이라면 새 수신 설정 링크를 메일로 보냈습니다. 메일을 확인해 주세요."
)


@router.post(
    "/preferences",
    tags=["Subscriptions"],
    summary="Mail a new preferences link; every earlier link stops working",
    description=(
        "A urlencoded form (or JSON) with `email`. The answer is the same whether or not the "
        "address is subscribed; a subscriber (receiving or left) is mailed a fresh "
        "preferences link, and every earlier preferences and unsubscribe link is revoked. "
        "Rate-limited with subscribe requests (429 with Retry-After)."
    ),
    dependencies=[SameSiteForm],  # CSRF: a POST from another site is refused
    status_code=202,
    response_class=HTMLResponse,
    responses={
        202: _HTML,
        422: {**_HTML, "description": "Not an email address"},
        429: {**_HTML, "description": "Too many requests; see Retry-After"},
        503: {**_HTML, "description": "The rate limiter's Redis is unavailable"},
    },
)
async def send_new_link(request: Request, background: BackgroundTasks) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    _require_token_keys(state)
    fields = await _read_fields(request)
    try:
        address = normalise_address(fields.get("email"))
    except InvalidAddress:
        return _page(state, _new_link_html(state, FIELD_MESSAGES["email_invalid"]), 422)
    try:
        await run_in_threadpool(_check_rate, request, address)
    except Problem as refused:
        notice = "요청이 너무 잦습니다. 잠시 뒤에 다시 시도해 주세요."
        page = _page(state, _new_link_html(state, notice), refused.status)
        page.headers.update(refused.headers or {})
        return page
    found = await run_in_threadpool(_new_links, state, address)
    if found is not None:
        subscriber_id, _ = found
        log.info(kv(msg="new preferences link", target=subscriber_ref(subscriber_id)))
        background.add_task(
            send_with_retries, state.settings, state.db, subscriber_id, states.MailToSend.NEW_LINK
        )
    return _page(
        state, render_message(state.settings, "메일을 확인해 주세요", [_SENT_IF_SUBSCRIBED]), 202
    )

"""The pages a mailed link opens: confirm, preferences, unsubscribe (RFC 8058 one-click),
and the form that mails a new preferences link.

A GET only ever shows a page with a button: mail scanners follow links. A link that
cannot be used is a page saying why (:class:`BadLink`), whichever step found it.
A subscriber's pages are in the language of their mails unless the request chose one
(``?lang=``, the cookie): a mailed link carries no language of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Path, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from syndicator.i18n import N_
from syndicator.logs import kv
from syndicator.subscriptions import states
from syndicator.subscriptions.addresses import InvalidAddress, normalise_address
from syndicator.subscriptions.erasure import subscriber_ref
from syndicator.subscriptions.preferences import (
    InvalidPreference,
    Preferences,
    clean_language,
    load_preferences,
    unknown_topics,
)
from syndicator.subscriptions.states import ConfirmResult
from syndicator.subscriptions.tokens import (
    Purpose,
    TokenExpired,
    TokenInvalid,
    preferences_url,
    read_link,
)
from syndicator.web.csrf import SameSiteForm
from syndicator.web.html.templates import PageLanguage
from syndicator.web.language import chosen_language, page_language, static_page_language
from syndicator.web.problem_route import ProblemRoute
from syndicator.web.problems import Problem
from syndicator.web.state import AppState
from syndicator.web.subscriptions.common import (
    check_rate,
    known,
    known_topic_names,
    mail_later,
    preferences,
    read_fields,
    require_token_keys,
)
from syndicator.web.subscriptions.render import (
    FIELD_MESSAGES,
    Button,
    Link,
    render_message,
    render_preferences,
)

__all__ = ["LEFT_HEADING", "BadLink", "router"]

log = logging.getLogger("syndicator.subscriptions")

# Token pages: never cached, never indexed, and the token never leaks in a Referer.
_PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}
_HTML: dict[str, Any] = {"content": {"text/html": {}}}
# What the unsubscribe link shows once the resident has left, however they left: the
# mail's own words ("수신 거부"), never the button again.
LEFT_HEADING = N_("수신이 해지되었습니다")


class BadLink(Exception):
    """A link that cannot be used: the page's status, heading and explanation (``N_``
    messages), and what the resident sent that was wrong, shown as it is."""

    def __init__(self, status: int, heading: str, text: str, details: tuple[str, ...] = ()):
        self.status, self.heading, self.text, self.details = status, heading, text, details


def _page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=_PRIVATE_HEADERS)


def _subscriber_page(request: Request, language: str) -> PageLanguage:
    """The subscriber's language, unless this request chose one."""
    if chosen_language(request) is not None:
        return page_language(request)
    return static_page_language(language, request.url.query)


def _message_page(
    state: AppState, page: PageLanguage, heading: str, text: str, status: int = 200
) -> HTMLResponse:
    return _page(render_message(state.settings, heading, [text], page=page), status)


def _bad_link_page(request: Request, bad: BadLink) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    links = [Link(state.settings.base_url + "/", N_("처음으로"))]
    html = render_message(
        state.settings,
        bad.heading,
        [bad.text],
        links=links,
        page=page_language(request),
        details=bad.details,
    )
    return _page(html, bad.status)


class _LinkPageRoute(ProblemRoute):
    """A :class:`BadLink` raised anywhere in a handler is answered with its page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except BadLink as bad:
                return _bad_link_page(request, bad)

        return answer


router = APIRouter(
    route_class=_LinkPageRoute, tags=["Subscriptions"], default_response_class=HTMLResponse
)


# --- Reading a link -----------------------------------------------------------------------


def _link(state: AppState, purpose: Purpose, token: str) -> tuple[int, int]:
    """(subscriber id, number) from a genuine token: the request a confirm token confirms,
    or the links version of a preferences or unsubscribe token."""
    require_token_keys(state)
    try:
        return read_link(state.settings, purpose, token)
    except TokenExpired as exc:
        raise BadLink(
            410,
            N_("링크가 만료되었습니다"),
            N_("확인 링크는 72시간 동안만 쓸 수 있습니다. 구독을 다시 신청해 주세요."),
        ) from exc
    except TokenInvalid as exc:
        raise BadLink(
            400,
            N_("잘못된 링크입니다"),
            N_(
                "링크가 손상되었거나 더 이상 쓸 수 없습니다. 메일에 있는 링크 전체를 "
                "그대로 열어 주세요."
            ),
        ) from exc


def _stale(state: AppState) -> BadLink:
    return BadLink(
        410,
        N_("더 이상 쓸 수 없는 링크입니다"),
        N_(
            "새 링크가 발급되었거나 구독을 해지하여 이 링크는 쓸 수 없습니다. 새 수신 설정 "
            "링크는 %(base_url)s/preferences 에서 받을 수 있습니다."
        ),
    )


def _gone() -> BadLink:
    return BadLink(
        410,
        N_("구독 정보가 없습니다"),
        N_("이 구독은 삭제되었습니다. 필요하면 새로 신청해 주세요."),
    )


def _link_state(state: AppState, subscriber_id: int, version: int) -> tuple[bool, str, str] | None:
    """Whether the link's version is the subscriber's, their status and language; None
    if gone."""
    with state.db.session() as session:
        subscriber = states.live_subscriber(session, subscriber_id)
        if subscriber is None:
            return None
        current = subscriber.links_version == version
        return current, subscriber.status, subscriber.language


async def _current_link(
    request: Request, state: AppState, purpose: Purpose, token: str
) -> tuple[int, str, PageLanguage]:
    """A preferences link's subscriber id, status and page language; a revoked link is a
    clear 410."""
    subscriber_id, version = _link(state, purpose, token)
    found = await run_in_threadpool(_link_state, state, subscriber_id, version)
    if found is None:
        raise _gone()
    current, status, language = found
    if not current:
        raise _stale(state)
    return subscriber_id, status, _subscriber_page(request, language)


async def _unsubscribe_link(
    request: Request, state: AppState, token: str
) -> tuple[int, bool, PageLanguage]:
    """(subscriber id, whether they left already, the page's language). An unsubscribe
    link revoked because they left still answers that they left (one-click may be
    pressed twice); revoked for any other reason it is a 410."""
    subscriber_id, version = _link(state, "unsubscribe", token)
    found = await run_in_threadpool(_link_state, state, subscriber_id, version)
    if found is None:
        raise _gone()
    current, status, language = found
    page = _subscriber_page(request, language)
    if status == "unsubscribed":
        return subscriber_id, True, page
    if not current:
        raise _stale(state)
    return subscriber_id, False, page


def _button_page(request: Request, page: PageLanguage, title: str, text: str) -> HTMLResponse:
    """What a link in a mail opens: a page whose button POSTs back, since mail scanners
    follow links and a GET must never act."""
    state: AppState = request.app.state.syndicator
    html = render_message(
        state.settings,
        title,
        [text],
        button=Button(action=str(request.url.path), label=title),
        page=page,
    )
    return _page(html)


_TOKEN = Path(description="The signed token from the mail", max_length=1000)
_TOKEN_PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _HTML,
    400: {**_HTML, "description": "Tampered or unknown token"},
    410: {**_HTML, "description": "Expired token, or the subscriber was erased"},
}


# --- Confirm ------------------------------------------------------------------------------


@router.get(
    "/subscriptions/confirm/{token}",
    summary="Confirm page: a button, never a confirmation by itself",
    description="Mail scanners follow links, so only the form's POST confirms.",
    responses=_TOKEN_PAGE_RESPONSES,
)
async def confirm_page(request: Request, token: str = _TOKEN) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    subscriber_id, _ = _link(state, "confirm", token)
    language = await run_in_threadpool(_language_of, state, subscriber_id)
    return _button_page(
        request,
        _subscriber_page(request, language),
        N_("구독 확인"),
        N_("%(site_title)s 뉴스레터 구독을 확인하려면 아래 단추를 눌러 주세요."),
    )


def _language_of(state: AppState, subscriber_id: int) -> str:
    with state.db.read_session() as session:
        subscriber = states.live_subscriber(session, subscriber_id)
        return subscriber.language if subscriber else "ko"


def _confirm(
    state: AppState, subscriber_id: int, request_id: int
) -> tuple[ConfirmResult, int, str]:
    """The result, and the subscriber's links version (for the page's preferences link)
    and language."""
    with state.db.session() as session:
        result = states.confirm(session, subscriber_id, request_id)
        subscriber = states.live_subscriber(session, subscriber_id)
        if subscriber is None:
            return result, 0, "ko"
        return result, subscriber.links_version, subscriber.language


@router.post(
    "/subscriptions/confirm/{token}",
    summary="Confirm a subscription (activates it with what that request asked for)",
    dependencies=[SameSiteForm],  # CSRF: a POST from another site is refused
    responses={**_TOKEN_PAGE_RESPONSES, 409: {**_HTML, "description": "Unsubscribed since"}},
)
async def confirm_subscription(request: Request, token: str = _TOKEN) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    subscriber_id, request_id = _link(state, "confirm", token)
    result, version, language = await run_in_threadpool(_confirm, state, subscriber_id, request_id)
    if result is ConfirmResult.GONE:
        raise _gone()
    if result is ConfirmResult.NOT_PENDING:
        raise BadLink(
            409,
            N_("구독을 확인할 수 없습니다"),
            N_(
                "이 링크 뒤에 구독을 해지했거나 새로 신청했습니다. 가장 최근에 받은 확인 "
                "메일의 링크를 쓰거나, 새로 신청해 주세요."
            ),
        )
    log.info(
        kv(msg="subscription confirmed", target=subscriber_ref(subscriber_id), result=result.value)
    )
    html = render_message(
        state.settings,
        N_("구독이 확인되었습니다"),
        [N_("이제 새 보도자료를 메일로 받습니다. 받는 방식과 분야는 언제든 바꿀 수 있습니다.")],
        links=[
            Link(preferences_url(state.settings, subscriber_id, version), N_("수신 설정 바꾸기"))
        ],
        page=_subscriber_page(request, language),
    )
    return _page(html)


# --- Preferences --------------------------------------------------------------------------


def _preferences_view(
    state: AppState, subscriber_id: int
) -> tuple[Preferences, str, str, str | None] | None:
    with state.db.session() as session:
        subscriber = states.live_subscriber(session, subscriber_id)
        if subscriber is None:
            return None
        prefs = load_preferences(session, subscriber)
        return prefs, subscriber.status, subscriber.language, subscriber.suppressed_kind


async def _preferences_page(
    request: Request, state: AppState, subscriber_id: int, notice: str | None = None
) -> HTMLResponse:
    view = await run_in_threadpool(_preferences_view, state, subscriber_id)
    if view is None:
        raise _gone()
    prefs, status, language, suppressed_kind = view
    categories, departments = await run_in_threadpool(known_topic_names, state)
    html = render_preferences(
        state.settings,
        str(request.url.path),
        prefs,
        status,
        categories,
        departments,
        notice,
        page=_subscriber_page(request, language),
        language=language,
        suppressed_kind=suppressed_kind,
    )
    return _page(html)


@router.get(
    "/preferences/{token}",
    summary="Preferences page: mode, categories, departments, or leave",
    responses=_TOKEN_PAGE_RESPONSES,
)
async def preferences_page(request: Request, token: str = _TOKEN) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    subscriber_id, _, _ = await _current_link(request, state, "preferences", token)
    return await _preferences_page(request, state, subscriber_id)


_NOT_SAVED = N_("설정을 저장하지 못했습니다")


def _checked_preferences(state: AppState, fields: dict[str, Any]) -> tuple[Preferences, str | None]:
    """The form's preferences and mail language, or a 422 page saying which field is
    wrong (and which names, for a topic no release has used)."""
    try:
        prefs = preferences(fields)
        language = clean_language(fields.get("language"), default="") or None
        unknown = unknown_topics(prefs, known(state))
    except InvalidPreference as exc:
        said = FIELD_MESSAGES.get(exc.field, N_("입력한 값을 다시 확인해 주세요."))
        raise BadLink(422, _NOT_SAVED, said) from exc
    if unknown:
        # One message per field; the names it did not know, as they were sent.
        first = unknown[0]
        names = tuple(error.reason.partition(": ")[2] for error in unknown)
        raise BadLink(422, _NOT_SAVED, FIELD_MESSAGES[first.field], names)
    return prefs, language


def _save_preferences(
    state: AppState, subscriber_id: int, prefs: Preferences, language: str | None
) -> tuple[states.PreferencesResult, int]:
    with state.db.session() as session:
        return states.change_preferences(session, subscriber_id, prefs, language)


def _resume(
    state: AppState, subscriber_id: int, prefs: Preferences, language: str | None
) -> tuple[states.PreferencesResult, int]:
    with state.db.session() as session:
        return states.resume_after_suppression(session, subscriber_id, prefs, language)


@router.post(
    "/preferences/{token}",
    summary="Change preferences, or leave (`action=unsubscribe`)",
    dependencies=[SameSiteForm],  # CSRF: a POST from another site is refused
    description=(
        "A urlencoded form (or JSON): `action` is `save` (default), `unsubscribe` or "
        "`resume`; `mode`, and `categories` / `departments` repeated. No topics means every "
        "release. A subscriber who is not receiving newsletters is sent a confirmation mail "
        "instead: coming back is confirmed from the mailbox, never done on the spot. "
        "`resume` lifts a suppression (a bounce or a complaint) the same way: the subscriber "
        "becomes pending and is sent a confirmation."
    ),
    responses={**_TOKEN_PAGE_RESPONSES, 422: {**_HTML, "description": "A field is not valid"}},
)
async def change_preferences(
    request: Request, background: BackgroundTasks, token: str = _TOKEN
) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    subscriber_id, _, page = await _current_link(request, state, "preferences", token)
    fields = await read_fields(request)
    if fields.get("action") == "unsubscribe":
        return await _unsubscribed_page(state, subscriber_id, page)
    prefs, language = await run_in_threadpool(_checked_preferences, state, fields)
    save = _resume if fields.get("action") == "resume" else _save_preferences
    result, request_id = await run_in_threadpool(save, state, subscriber_id, prefs, language)
    if language is not None and chosen_language(request) is None:
        page = static_page_language(language, request.url.query)
    log.info(
        kv(msg="preferences changed", target=subscriber_ref(subscriber_id), result=result.value)
    )
    if result is states.PreferencesResult.GONE:
        raise _gone()
    if save is _resume and result is states.PreferencesResult.SAVED:
        return await _preferences_page(request, state, subscriber_id)  # nothing to lift
    if result is states.PreferencesResult.CONFIRM:
        mail_later(background, state, subscriber_id, states.MailToSend.CONFIRM, request_id)
        return _message_page(
            state,
            page,
            N_("메일을 확인해 주세요"),
            N_(
                "다시 받으려면 확인이 필요합니다. 확인 메일의 링크를 누르면 이 설정으로 "
                "구독이 시작됩니다."
            ),
        )
    if result is states.PreferencesResult.SUPPRESSED:
        # Sending is stopped: the page says why and offers to receive again.
        return await _preferences_page(
            request, state, subscriber_id, N_("발송이 멈춰 있어 저장하지 않았습니다.")
        )
    return await _preferences_page(request, state, subscriber_id, N_("설정을 저장했습니다."))


# --- Unsubscribe --------------------------------------------------------------------------


def _unsubscribe(state: AppState, subscriber_id: int) -> bool:
    with state.db.session() as session:
        return states.unsubscribe(session, subscriber_id)


async def _unsubscribed_page(
    state: AppState, subscriber_id: int, page: PageLanguage
) -> HTMLResponse:
    found = await run_in_threadpool(_unsubscribe, state, subscriber_id)
    log.info(kv(msg="unsubscribed", target=subscriber_ref(subscriber_id), found=found))
    return _message_page(
        state,
        page,
        LEFT_HEADING,
        N_("더 이상 뉴스레터를 보내지 않습니다. 그동안 구독해 주셔서 감사합니다."),
    )


@router.get(
    "/unsubscribe/{token}",
    summary="Unsubscribe page: a button (a GET never unsubscribes)",
    responses=_TOKEN_PAGE_RESPONSES,
)
async def unsubscribe_page(request: Request, token: str = _TOKEN) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    _, left, page = await _unsubscribe_link(request, state, token)
    if left:
        # Left already (one-click from the mail client, or pressed before): no button.
        return _message_page(
            state, page, LEFT_HEADING, N_("이 주소로는 더 이상 뉴스레터를 보내지 않습니다.")
        )
    return _button_page(
        request,
        page,
        N_("구독 해지"),
        N_("%(site_title)s 뉴스레터를 그만 받으려면 아래 단추를 눌러 주세요."),
    )


@router.post(
    "/unsubscribe/{token}",
    summary="One-click unsubscribe (RFC 8058)",
    description=(
        "Takes effect at once. Needs no cookie, session or CSRF token; any body is accepted "
        "(mail clients send `List-Unsubscribe=One-Click`). Pressing it twice is harmless. "
        "Leaving revokes every preferences and unsubscribe link mailed before."
    ),
    responses={
        200: _HTML,
        400: {**_HTML, "description": "Tampered or unknown token"},
        410: {**_HTML, "description": "A revoked link, or the subscriber was erased"},
    },
)
async def one_click_unsubscribe(request: Request, token: str = _TOKEN) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    subscriber_id, _, page = await _unsubscribe_link(request, state, token)
    return await _unsubscribed_page(state, subscriber_id, page)


# --- "Send me a new link" -----------------------------------------------------------------


@router.get(
    "/preferences",
    summary="Ask for a new preferences link (a form)",
    responses={200: _HTML},
)
async def new_link_form(request: Request) -> HTMLResponse:
    return _page(_new_link_html(request))


def _new_link_html(request: Request, notice: str | None = None) -> str:
    state: AppState = request.app.state.syndicator
    paragraphs = [
        N_(
            "구독한 이메일 주소를 입력하면 새 수신 설정 링크를 메일로 보냅니다. 전에 받은 "
            "수신 설정 링크와 수신 거부 링크는 더 이상 쓸 수 없게 됩니다."
        )
    ]
    return render_message(
        state.settings,
        N_("수신 설정 링크 받기"),
        [notice, *paragraphs] if notice else paragraphs,
        button=Button(action="/preferences", label=N_("새 링크 받기"), email_field=True),
        page=page_language(request),
    )


def _new_links(state: AppState, address: str) -> tuple[int, int] | None:
    with state.db.session() as session:
        return states.new_links(session, address)


_SENT_IF_SUBSCRIBED = N_(
    "입력하신 주소가 구독 중이라면 새 수신 설정 링크를 메일로 보냈습니다. 메일을 확인해 주세요."
)


@router.post(
    "/preferences",
    summary="Mail a new preferences link; every earlier link stops working",
    description=(
        "A urlencoded form (or JSON) with `email`. The answer is the same whether or not the "
        "address is subscribed; a subscriber (receiving or left) is mailed a fresh "
        "preferences link, and every earlier preferences and unsubscribe link is revoked. "
        "Rate-limited with subscribe requests (429 with Retry-After)."
    ),
    dependencies=[SameSiteForm],  # CSRF: a POST from another site is refused
    status_code=202,
    responses={
        202: _HTML,
        422: {**_HTML, "description": "Not an email address"},
        429: {**_HTML, "description": "Too many requests; see Retry-After"},
        503: {**_HTML, "description": "The rate limiter's Redis is unavailable"},
    },
)
async def send_new_link(request: Request, background: BackgroundTasks) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    require_token_keys(state)
    fields = await read_fields(request)
    try:
        address = normalise_address(fields.get("email"))
    except InvalidAddress:
        return _page(_new_link_html(request, FIELD_MESSAGES["email_invalid"]), 422)
    try:
        await run_in_threadpool(check_rate, request, address)
    except Problem as refused:
        notice = N_("요청이 너무 잦습니다. 잠시 뒤에 다시 시도해 주세요.")
        page = _page(_new_link_html(request, notice), refused.status)
        page.headers.update(refused.headers or {})
        return page
    found = await run_in_threadpool(_new_links, state, address)
    if found is not None:
        subscriber_id, _ = found
        log.info(kv(msg="new preferences link", target=subscriber_ref(subscriber_id)))
        mail_later(background, state, subscriber_id, states.MailToSend.NEW_LINK)
    html = render_message(
        state.settings,
        N_("메일을 확인해 주세요"),
        [_SENT_IF_SUBSCRIBED],
        page=page_language(request),
    )
    return _page(html, 202)

"""The partners' self-service portal: ``/portal``, server-rendered in Korean and English.

A partner comes in through a signed link an operator sent (``/portal/enter/<token>``,
:mod:`syndicator.partners.portal_links`), which is exchanged at once for a server-side
session (:mod:`syndicator.ops.portal_sessions`) and a redirect that drops the token
from the address bar. Everything after that is the session's partner's own: a delivery
of another partner answers 404, exactly as one that does not exist. Every action is a
POST carrying the session's CSRF token, goes through the same registry and delivery-log
functions as the admin API, and is audited as ``partner:<id>``.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from syndicator.i18n import N_
from syndicator.ops.portal_sessions import (
    PortalSession,
    close_session,
    open_portal_session,
    resume_portal_session,
)
from syndicator.partners import delivery_log, registry
from syndicator.partners.delivery_log import DeliveryNotFound, NotResendable
from syndicator.partners.portal_links import PortalLinkExpired, PortalLinkInvalid, read_link_token
from syndicator.partners.portal_requests import request_link
from syndicator.partners.registry import InvalidPartner, PartnerNotFound, PartnerPatch
from syndicator.partners.test_events import send_test_event
from syndicator.store.sealed import keyring
from syndicator.web.csrf import from_this_site
from syndicator.web.html.templates import render
from syndicator.web.ids import whole_number
from syndicator.web.language import page_language
from syndicator.web.problems import Problem
from syndicator.web.state import AppState

__all__ = ["COOKIE", "CSRF_FIELD", "router"]

router = APIRouter(prefix="/portal", include_in_schema=False)

COOKIE = "syndicator_portal"
CSRF_FIELD = "csrf_token"
COOKIE_PATH = "/portal"
PAGE = 20
SEOUL = ZoneInfo("Asia/Seoul")
_NO_STORE = {"Cache-Control": "no-store"}

LINK_EXPIRED = N_("이 링크는 기한이 지났습니다. 운영자에게 새 링크를 요청하세요.")
LINK_INVALID = N_("이 링크는 올바르지 않습니다. 받은 주소를 그대로 열었는지 확인하세요.")
REPLAY_REFUSED = N_("지금은 다시 보낼 수 없습니다. 엔드포인트가 꺼져 있거나 전송 중입니다.")
REPLAY_DUE = N_("다시 보내도록 예약했습니다. 몇 초 안에 전송됩니다.")
SINCE_FORMAT = N_("시각을 YYYY-MM-DDTHH:MM 꼴로 적어 주세요.")
ENABLE_FIRST = N_("엔드포인트가 꺼져 있습니다. 먼저 켜세요.")
RECOVER_DUE = N_("실패한 전송을 다시 보내도록 예약했습니다.")
URL_CHANGED = N_("엔드포인트 주소를 바꿨습니다.")
DISABLED = N_("엔드포인트를 껐습니다. 다시 켤 때까지 아무것도 보내지 않습니다.")
ENABLED = N_("엔드포인트를 켰습니다.")
TEST_DUE = N_("시험 이벤트(partner.test)를 보냈습니다. 몇 초 안에 도착하고 전송 기록에 남습니다.")
REQUEST_SENT = N_(
    "등록된 연락처라면 새 포털 링크를 메일로 보냈습니다. 오지 않으면 운영자에게 문의하세요."
)
LEFT = N_("포털에서 나갔습니다.")
SESSION_NEEDED = N_("포털 세션이 없거나 끝났습니다. 받은 포털 링크를 다시 여세요.")


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.syndicator
    return state


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    settings = _state(request).settings
    html = render(
        settings,
        f"portal/{template}",
        page=page_language(request),
        csrf_field=CSRF_FIELD,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=_NO_STORE)


def _set_cookie(response: Response, request: Request, token: str) -> None:
    # Lax, not Strict: the link is opened from a mail client (another site), and the
    # redirect that follows must carry the new cookie. POSTs stay same-site only (CSRF
    # token, Sec-Fetch-Site/Origin, and the request policy).
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(timedelta(hours=8).total_seconds()),
        path=COOKIE_PATH,
        secure=_state(request).settings.base_url.startswith("https://"),
        httponly=True,
        samesite="lax",
    )


# -- access -----------------------------------------------------------------------------


@router.get("/enter/{token}")
async def enter(request: Request, token: str) -> Response:
    state = _state(request)
    try:
        partner_id = read_link_token(state.settings, token)
        await run_in_threadpool(registry.get, state.db, partner_id)
    except PortalLinkExpired:
        return _page(request, "message.html", 410, message=LINK_EXPIRED, partner=None)
    except (PortalLinkInvalid, PartnerNotFound):
        return _page(request, "message.html", 404, message=LINK_INVALID, partner=None)
    cookie = await run_in_threadpool(open_portal_session, state.db, partner_id, state.clock())
    response = RedirectResponse("/portal", status_code=303)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token stays out of logs
    _set_cookie(response, request, cookie)
    return response


def _resume(state: AppState, cookie: str) -> PortalSession | None:
    idle = timedelta(minutes=state.settings.console_idle_minutes)
    found = resume_portal_session(state.db, cookie, state.clock(), idle)
    if found is None:
        return None
    try:
        registry.get(state.db, found.partner_id)
    except PartnerNotFound:
        return None  # deleted since: its sessions open nothing
    return found


async def _partner_session(request: Request) -> PortalSession:
    cookie = request.cookies.get(COOKIE, "")
    found = await run_in_threadpool(_resume, _state(request), cookie) if cookie else None
    if found is None:
        raise Problem(401, "Unauthorized", "open the portal link your operator sent")
    return found


PartnerSession = Depends(_partner_session)


def _who(found: PortalSession) -> str:
    return f"partner:{found.partner_id}"


async def _checked_form(request: Request, found: PortalSession) -> dict[str, str]:
    form = await request.form()
    given = form.get(CSRF_FIELD)
    token = given if isinstance(given, str) else ""
    same = hmac.compare_digest(token.encode(), found.csrf.encode())
    if not (same and from_this_site(_state(request).settings, request)):
        raise Problem(
            403,
            "Forbidden",
            "missing or wrong CSRF token, or cross-site: reload the portal page",
            [{"field": CSRF_FIELD, "reason": "missing or wrong CSRF token, or cross-site"}],
        )
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _home(request: Request, found: PortalSession, status: int = 200, **extra: Any) -> Response:
    partner = registry.get(_state(request).db, found.partner_id)
    context: dict[str, Any] = {"notice": None, "url_error": None, "url_value": partner.url}
    context.update(extra)
    return _page(request, "home.html", status, partner=partner, csrf=found.csrf, **context)


REQUEST_COOKIE = "syndicator_portal_request"


@router.get("/request", response_class=HTMLResponse)
def request_form(request: Request) -> Response:
    token = request.cookies.get(REQUEST_COOKIE) or secrets.token_urlsafe(24)
    response = _page(request, "request.html", partner=None, request_csrf=token, notice=None)
    response.set_cookie(
        REQUEST_COOKIE,
        token,
        max_age=600,
        path="/portal/request",
        secure=_state(request).settings.base_url.startswith("https://"),
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/request")
async def request_new_link(request: Request) -> Response:
    """The same answer whoever asks: nothing says whether the address is registered."""
    state = _state(request)
    form = await request.form()
    given, cookie = form.get(CSRF_FIELD), request.cookies.get(REQUEST_COOKIE, "")
    token = given if isinstance(given, str) else ""
    same = bool(cookie) and hmac.compare_digest(token.encode(), cookie.encode())
    if not (same and from_this_site(state.settings, request)):
        raise Problem(
            403,
            "Forbidden",
            "missing or wrong CSRF token, or cross-site: reload the form",
            [{"field": CSRF_FIELD, "reason": "missing or wrong CSRF token, or cross-site"}],
        )
    address = form.get("email")
    if isinstance(address, str):
        await run_in_threadpool(request_link, state.db, state.settings, address, state.clock())
    return _page(request, "request.html", partner=None, request_csrf=cookie, notice=REQUEST_SENT)


# -- pages ------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def home(request: Request, found: PortalSession = PartnerSession) -> Response:
    return _home(request, found)


@router.get("/deliveries", response_class=HTMLResponse)
def deliveries(
    request: Request,
    found: PortalSession = PartnerSession,
    cursor: str | None = Query(None, max_length=20),
) -> Response:
    try:
        after = delivery_log.parse_cursor(cursor)
    except ValueError:
        raise Problem(404, "Not found", "no such page") from None
    db = _state(request).db
    page = delivery_log.list_deliveries(db, found.partner_id, cursor=after, limit=PAGE)
    partner = registry.get(db, found.partner_id)
    return _page(
        request, "deliveries.html", log=page, partner=partner, csrf=found.csrf, notice=None
    )


# -- actions ----------------------------------------------------------------------------


def _own_delivery(request: Request, found: PortalSession, delivery_ref: str) -> int:
    """The delivery's id when it is this partner's; 404 for anyone else's or none."""
    delivery_id = whole_number(delivery_ref)
    try:
        if delivery_id is None:
            raise DeliveryNotFound(0)
        view = delivery_log.get_delivery(_state(request).db, delivery_id)
    except DeliveryNotFound:
        raise Problem(404, "Not found", "no such delivery") from None
    if view.partner_id != found.partner_id:
        raise Problem(404, "Not found", "no such delivery")
    return delivery_id


@router.post("/deliveries/{delivery_ref}/replay")
async def replay(
    request: Request, delivery_ref: str, found: PortalSession = PartnerSession
) -> Response:
    await _checked_form(request, found)
    delivery_id = await run_in_threadpool(_own_delivery, request, found, delivery_ref)
    try:
        await run_in_threadpool(delivery_log.replay, _state(request).db, delivery_id, _who(found))
    except NotResendable:
        return _home(request, found, 409, notice=REPLAY_REFUSED)
    return _home(request, found, notice=REPLAY_DUE)


def _since(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value.replace(tzinfo=SEOUL) if value.tzinfo is None else value


@router.post("/recover")
async def recover(request: Request, found: PortalSession = PartnerSession) -> Response:
    form = await _checked_form(request, found)
    since = _since(form.get("since", ""))
    if since is None:
        return _home(request, found, 422, notice=SINCE_FORMAT)
    try:
        count = await run_in_threadpool(
            delivery_log.recover, _state(request).db, found.partner_id, since, _who(found)
        )
    except NotResendable:
        return _home(request, found, 409, notice=ENABLE_FIRST)
    return _home(request, found, notice=RECOVER_DUE, recovered=count)


@router.post("/url")
async def change_url(request: Request, found: PortalSession = PartnerSession) -> Response:
    form = await _checked_form(request, found)
    url = form.get("url", "").strip()
    state = _state(request)

    def change() -> None:
        patch = registry.load_spec(PartnerPatch, {"url": url})
        registry.update(
            state.db,
            found.partner_id,
            patch,
            _who(found),
            state.settings.webhook_allowed_networks,
            ring=keyring(state.settings.encryption_keys),
        )

    try:
        await run_in_threadpool(change)
    except InvalidPartner as exc:
        reasons = "; ".join(e["reason"] for e in exc.errors) or str(exc)
        return _home(request, found, 422, url_error=reasons, url_value=url)
    return _home(request, found, notice=URL_CHANGED)


@router.post("/secret")
async def rotate_secret(request: Request, found: PortalSession = PartnerSession) -> Response:
    await _checked_form(request, found)
    state = _state(request)
    grace = timedelta(hours=state.settings.webhook_secret_grace_hours)
    rotated = await run_in_threadpool(
        registry.rotate_secret,
        state.db,
        found.partner_id,
        grace,
        _who(found),
        ring=keyring(state.settings.encryption_keys),
    )
    return _page(
        request,
        "secret.html",
        partner=rotated.partner,
        secret=rotated.secret,
        grace_hours=state.settings.webhook_secret_grace_hours,
    )


@router.post("/test")
async def send_test(request: Request, found: PortalSession = PartnerSession) -> Response:
    await _checked_form(request, found)
    db = _state(request).db
    try:
        await run_in_threadpool(send_test_event, db, found.partner_id, _who(found))
    except NotResendable:
        return _home(request, found, 409, notice=ENABLE_FIRST)
    return _home(request, found, notice=TEST_DUE)


@router.post("/disable")
async def disable(request: Request, found: PortalSession = PartnerSession) -> Response:
    await _checked_form(request, found)
    db = _state(request).db
    await run_in_threadpool(
        registry.disable, db, found.partner_id, _who(found), "disabled by the partner"
    )
    return _home(request, found, notice=DISABLED)


@router.post("/enable")
async def enable(request: Request, found: PortalSession = PartnerSession) -> Response:
    await _checked_form(request, found)
    db = _state(request).db
    await run_in_threadpool(registry.enable, db, found.partner_id, _who(found))
    return _home(request, found, notice=ENABLED)


@router.post("/logout")
async def logout(request: Request, found: PortalSession = PartnerSession) -> Response:
    await _checked_form(request, found)
    await run_in_threadpool(close_session, _state(request).db, request.cookies.get(COOKIE, ""))
    response = _page(request, "message.html", message=LEFT, partner=None)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response

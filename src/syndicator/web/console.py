"""The ops console: ``/ops``, server-rendered pages in Korean, and the operators' actions.

Pages read ``ops.readings`` (the numbers /metrics shows) and ``ops.console_views``. Every
action asks for confirmation on its own page, then POSTs with the session's CSRF token,
and is written to the audit log (``ops.actions``). ``/static/ops.js`` refreshes each
page's live regions in place, without a reload.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from syndicator.intake.notices import CHANNEL as NOTICES_CHANNEL
from syndicator.ops import actions, console_sessions, console_views, mailbox, newsletter_views
from syndicator.ops.audit import recent_actions
from syndicator.ops.readings import collect_readings
from syndicator.store.models import utcnow
from syndicator.subscriptions.erasure import SUBSCRIBER_CHANNELS
from syndicator.web.console_auth import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    ConsoleOperator,
    Operator,
    check_csrf,
    set_console_cookie,
    token_matches,
)
from syndicator.web.csrf import from_this_site
from syndicator.web.html.console_charts import hourly_chart
from syndicator.web.html.templates import environment
from syndicator.web.ids import ReleaseId, SubscriberId, after_query, id_query, whole_number
from syndicator.web.problems import Problem
from syndicator.web.state import AppState

__all__ = ["ACTIONS", "router"]

router = APIRouter(prefix="/ops", include_in_schema=False)

# action -> the Korean label, with the identifier operators know
ACTIONS = {
    "replay": "전송 다시 시도 (replay)",
    "recover": "파트너 복구 (recover)",
    "resend": "실패한 이메일 다시 보내기 (resend)",
    "pause": "채널 일시 중지 (pause)",
    "resume": "채널 재개 (resume)",
    "unsuppress": "구독자 발송 중지 해제 (unsuppress)",
}
_NO_STORE = {"Cache-Control": "no-store"}
_LOGIN_SECONDS = 600
DEFAULT_RECOVER_HOURS = 24
MAX_RECOVER_HOURS = 24 * 90


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.syndicator
    return state


def _render(
    request: Request, template: str, operator: Operator | None, status: int = 200, **context: Any
) -> HTMLResponse:
    settings = _state(request).settings
    html = (
        environment(settings.templates_dir)
        .get_template(f"ops/{template}")
        .render(
            operator=operator,
            csrf_field=CSRF_FIELD,
            path=request.url.path,
            embedded_mail=not settings.smtp_url,
            now=utcnow(),
            **context,
        )
    )
    return HTMLResponse(html, status_code=status, headers=_NO_STORE)


def _safe_next(target: str) -> str:
    # Only back into the console: never an open redirect.
    bad = not target.startswith("/ops") or "//" in target or "\\" in target
    return "/ops" if bad else target


# -- access -----------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/ops") -> HTMLResponse:
    settings = _state(request).settings
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = _render(
        request, "login.html", None, login_csrf=token, next=_safe_next(next), error=None
    )
    set_console_cookie(response, settings, LOGIN_COOKIE, token, _LOGIN_SECONDS)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    settings = _state(request).settings
    form = await request.form()
    submitted, cookie = str(form.get(CSRF_FIELD, "")), request.cookies.get(LOGIN_COOKIE, "")
    same = bool(cookie) and hmac.compare_digest(submitted.encode(), cookie.encode())
    if not (same and from_this_site(settings, request)):
        raise Problem(
            403,
            "Forbidden",
            "로그인 양식을 새로 열고 다시 시도하세요.",
            [{"field": CSRF_FIELD, "reason": "missing or wrong CSRF token, or cross-site"}],
        )
    who = str(form.get("who", "")).strip()[:100]
    next_path = _safe_next(str(form.get("next", "/ops")))
    if not who or not token_matches(settings, str(form.get("token", ""))):
        error = "이름을 적어 주세요." if not who else "관리자 토큰이 맞지 않습니다."
        return _render(
            request, "login.html", None, 401, login_csrf=cookie, next=next_path, error=error
        )
    state = _state(request)
    token = await run_in_threadpool(
        console_sessions.open_session, state.db, settings.admin_token or "", who, state.clock()
    )
    response = RedirectResponse(next_path, status_code=303)
    set_console_cookie(response, settings, SESSION_COOKIE, token, SESSION_SECONDS)
    response.delete_cookie(LOGIN_COOKIE, path="/ops")
    return response


@router.post("/logout")
async def logout(request: Request, operator: Operator = ConsoleOperator) -> Response:
    form = await request.form()
    check_csrf(_state(request).settings, request, operator, form.get(CSRF_FIELD))
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if operator.via == "session" and cookie:
        await run_in_threadpool(console_sessions.close_session, _state(request).db, cookie)
    response = RedirectResponse("/ops/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/ops")
    return response


# -- pages ------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def overview(request: Request, operator: Operator = ConsoleOperator) -> HTMLResponse:
    state = _state(request)
    readings = collect_readings(
        state.db,
        state.redis,
        stale_after=state.settings.worker_stale_after,
        consumer_window=state.settings.consumer_window,
    )
    paused = actions.paused_channels(state.db)
    return _render(
        request,
        "overview.html",
        operator,
        readings=readings,
        paused=paused,
        audit=recent_actions(state.db, limit=10),
        chart_stamp=utcnow().strftime("%Y%m%d%H%M"),
    )


@router.get("/charts/attempts.svg")
def attempts_chart(request: Request, operator: Operator = ConsoleOperator) -> Response:
    start, series = console_views.attempts_per_hour(_state(request).db)
    svg = hourly_chart(start, series, "채널별 시간당 시도 수 (attempts per hour, 24h)")
    return Response(
        svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=60"}
    )


@router.get("/failures", response_class=HTMLResponse)
def failures(request: Request, operator: Operator = ConsoleOperator) -> HTMLResponse:
    groups = console_views.recent_failures(_state(request).db)
    return _render(request, "failures.html", operator, groups=groups)


@router.get("/people", response_class=HTMLResponse)
def people(request: Request, operator: Operator = ConsoleOperator) -> HTMLResponse:
    state = _state(request)
    readings = collect_readings(
        state.db,
        state.redis,
        stale_after=state.settings.worker_stale_after,
        consumer_window=state.settings.consumer_window,
    )
    return _render(
        request,
        "people.html",
        operator,
        partners=console_views.partner_rows(state.db),
        partner_counts=readings.partners,
        subscriber_counts=readings.subscribers,
        email_attempts=console_views.recent_attempts(state.db, SUBSCRIBER_CHANNELS),
        notice_attempts=console_views.recent_attempts(state.db, (NOTICES_CHANNEL,)),
    )


@router.get("/releases", response_class=HTMLResponse)
def find_release(
    request: Request,
    release: int | None = id_query("A release's id."),
    operator: Operator = ConsoleOperator,
) -> Response:
    if release is not None:
        return RedirectResponse(f"/ops/releases/{release}", status_code=303)
    return _render(request, "release_find.html", operator)


@router.get("/releases/{release_id}", response_class=HTMLResponse)
def release_page(
    request: Request,
    release_id: ReleaseId,
    channel: str | None = Query(None, max_length=40),
    after: int = after_query("The last delivery id of the previous page"),
    operator: Operator = ConsoleOperator,
) -> HTMLResponse:
    pages = {channel: after} if channel else {}
    db = _state(request).db
    story = console_views.release_story(db, release_id, pages)
    status = 200 if story.events or story.title else 404
    return _render(
        request,
        "release.html",
        operator,
        status,
        story=story,
        rates=newsletter_views.release_rates(db, [e.id for e in story.events]),
        feedback_labels=newsletter_views.FEEDBACK_LABELS,
        subscriber_channels=SUBSCRIBER_CHANNELS,
        # A release mailed to 100,000 subscribers counts 100,000 rows: refresh gently.
        refresh_seconds=30,
    )


@router.get("/newsletters", response_class=HTMLResponse)
def newsletters(request: Request, operator: Operator = ConsoleOperator) -> HTMLResponse:
    """Deliverability: the 7 days' bounce and complaint rates, each newsletter's, and
    whether sending is paused (and why)."""
    state = _state(request)
    window, lines = newsletter_views.newsletter_lines(state.db)
    settings = state.settings
    return _render(
        request,
        "newsletters.html",
        operator,
        window=window,
        lines=lines,
        pause=actions.paused_channels(state.db).get("email"),
        feedback_labels=newsletter_views.FEEDBACK_LABELS,
        pause_percent=settings.complaint_pause_percent,
        pause_min_sent=settings.complaint_pause_min_sent,
        refresh_seconds=30,
    )


@router.get("/subscribers", response_class=HTMLResponse)
def find_subscriber(
    request: Request,
    subscriber: int | None = id_query("A subscriber's id."),
    operator: Operator = ConsoleOperator,
) -> Response:
    if subscriber is not None:
        return RedirectResponse(f"/ops/subscribers/{subscriber}", status_code=303)
    return RedirectResponse("/ops/people#subscribers", status_code=303)


@router.get("/subscribers/{subscriber_id}", response_class=HTMLResponse)
def subscriber_page(
    request: Request, subscriber_id: SubscriberId, operator: Operator = ConsoleOperator
) -> HTMLResponse:
    story = newsletter_views.subscriber_story(_state(request).db, subscriber_id)
    return _render(
        request,
        "subscriber.html",
        operator,
        200 if story else 404,
        story=story,
        subscriber_id=subscriber_id,
        feedback_labels=newsletter_views.FEEDBACK_LABELS,
        refresh_seconds=30,
    )


@router.get("/outbox", response_class=HTMLResponse)
def outbox(request: Request, operator: Operator = ConsoleOperator) -> HTMLResponse:
    waiting, newest = console_views.outbox_rows(_state(request).db)
    return _render(request, "outbox.html", operator, waiting=waiting, newest=newest)


def _mail_dir(request: Request) -> Any:
    settings = _state(request).settings
    if settings.smtp_url:
        raise Problem(404, "Not found", "SYNDICATOR_SMTP_URL is set: mail goes to SMTP, not .eml")
    return settings.data_dir / "outbox"


@router.get("/mail", response_class=HTMLResponse)
def mail_list(request: Request, operator: Operator = ConsoleOperator) -> HTMLResponse:
    names, total = mailbox.list_mail(_mail_dir(request))
    return _render(request, "mail_list.html", operator, names=names, total=total)


@router.get("/mail/{name}", response_class=HTMLResponse)
def mail_one(request: Request, name: str, operator: Operator = ConsoleOperator) -> HTMLResponse:
    try:
        mail = mailbox.read_mail(_mail_dir(request), name)
    except mailbox.MailNotFound:
        raise Problem(404, "Not found", f"no message {name!r} in the outbox") from None
    return _render(request, "mail_one.html", operator, mail=mail)


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request, operator: Operator = ConsoleOperator) -> HTMLResponse:
    entries = recent_actions(_state(request).db, limit=200)
    return _render(request, "audit.html", operator, entries=entries)


# -- actions: a confirmation page, then the POST ------------------------------------------


def _action(name: str) -> str:
    if name not in ACTIONS:
        raise Problem(404, "Not found", f"no action {name!r}: one of {', '.join(ACTIONS)}")
    return name


def _target(action: str, raw: object) -> str:
    value = str(raw or "").strip()
    if action in ("pause", "resume"):
        if value not in actions.CHANNEL_NAMES:
            names = ", ".join(actions.CHANNEL_NAMES)
            raise Problem(
                422,
                "Invalid request",
                f"channel: one of {names}",
                [{"field": "target", "reason": f"unknown channel; one of {names}"}],
            )
        return value
    if whole_number(value) is None:
        raise Problem(
            422,
            "Invalid request",
            "target: a positive whole number",
            [{"field": "target", "reason": "expected an id (a positive whole number)"}],
        )
    return value


@router.get("/confirm/{name}", response_class=HTMLResponse)
def confirm(
    request: Request,
    name: str,
    target: str = Query(..., max_length=40),
    operator: Operator = ConsoleOperator,
) -> HTMLResponse:
    action = _action(name)
    return _render(
        request,
        "confirm.html",
        operator,
        action=action,
        label=ACTIONS[action],
        target=_target(action, target),
        recover_hours=DEFAULT_RECOVER_HOURS,
    )


@router.post("/actions/{name}")
async def act(request: Request, name: str, operator: Operator = ConsoleOperator) -> Response:
    state = _state(request)
    form = await request.form()
    check_csrf(state.settings, request, operator, form.get(CSRF_FIELD))
    action = _action(name)
    target = _target(action, form.get("target"))
    if form.get("confirm") != "yes":
        raise Problem(
            422,
            "Invalid request",
            "confirm the action on its confirmation page",
            [{"field": "confirm", "reason": "must be 'yes'"}],
        )
    hours = whole_number(str(form.get("hours") or DEFAULT_RECOVER_HOURS), 1, MAX_RECOVER_HOURS)
    if hours is None:
        raise Problem(
            422,
            "Invalid request",
            f"hours: 1 to {MAX_RECOVER_HOURS}",
            [{"field": "hours", "reason": f"a whole number of hours, 1 to {MAX_RECOVER_HOURS}"}],
        )
    try:
        message = await run_in_threadpool(_do, state, operator.actor, action, target, hours)
    except actions.ActionRefused as exc:
        raise Problem(409, "Cannot do that", str(exc)) from None
    if operator.via == "bearer":
        return Response(message + "\n", media_type="text/plain; charset=utf-8")
    return _render(request, "done.html", operator, message=message, label=ACTIONS[action])


def _do(state: AppState, who: str, action: str, target: str, hours: int) -> str:
    db = state.db
    if action == "replay":
        channel = actions.replay_delivery(db, who, int(target))
        return f"전송 {target} ({channel})을(를) 곧 다시 보냅니다."
    if action == "recover":
        since = utcnow() - timedelta(hours=hours)
        count = actions.recover_partner(db, who, int(target), since)
        return f"파트너 {target}: 최근 {hours}시간 동안 실패한 전송 {count}건을 다시 보냅니다."
    if action == "resend":
        count = actions.resend_release_email(db, who, int(target))
        return f"보도자료 {target}: 실패했거나 불확실한 이메일 {count}건을 다시 보냅니다."
    if action == "unsuppress":
        actions.unsuppress_subscriber(db, who, int(target))
        return (
            f"구독자 {target}: 발송 중지를 해제했습니다. 구독을 다시 신청하고 확인해야 "
            "메일을 받습니다."
        )
    if action == "pause":
        changed = actions.pause_channel(db, who, target)
        return f"채널 {target}: " + ("일시 중지했습니다." if changed else "이미 중지되어 있습니다.")
    changed = actions.resume_channel(db, who, target)
    return f"채널 {target}: " + ("재개했습니다." if changed else "중지되어 있지 않았습니다.")

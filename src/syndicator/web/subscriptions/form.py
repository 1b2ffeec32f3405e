"""``/subscribe``: the newsletter form, its validation, and "check your mail".

The rules (address checks, rate limits, double opt-in, the mail) are the API's
(:mod:`.common`); this module only reads the form, explains what is wrong next to the
field, and answers with pages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from syndicator.i18n import LANGUAGES, N_
from syndicator.subscriptions.addresses import InvalidAddress, normalise_address
from syndicator.subscriptions.preferences import MODES, Preferences
from syndicator.web.csrf import FIELD_NAME, from_this_site, issue_token, valid_token
from syndicator.web.language import page_language
from syndicator.web.problems import PROBLEM_CONTENT, Problem
from syndicator.web.state import AppState
from syndicator.web.subscriptions.common import (
    check_rate,
    known_topic_names,
    read_fields,
    require_token_keys,
    start_subscription,
)
from syndicator.web.subscriptions.render import (
    FIELD_MESSAGES,
    SubscribeForm,
    render_sent,
    render_subscribe,
)

__all__ = ["router"]

router = APIRouter(tags=["Pages"])

_PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def _state(request: Request) -> AppState:
    return request.app.state.syndicator


def _page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=_PRIVATE)


async def _form_page(
    request: Request,
    form: SubscribeForm,
    status: int = 200,
    notice: str | None = None,
) -> HTMLResponse:
    state = _state(request)
    categories, departments = await run_in_threadpool(known_topic_names, state)
    response = _page("", status)
    token = issue_token(state.settings, request, response)
    html = render_subscribe(
        state.settings, form, departments, categories, token, notice, page_language(request)
    )
    response.body = response.render(html)
    response.headers["content-length"] = str(len(response.body))
    return response


@router.get("/subscribe", response_class=HTMLResponse, summary="The newsletter form")
async def subscribe_form(request: Request) -> HTMLResponse:
    # The mails' language starts as the page's: whoever reads this in English gets English.
    return await _form_page(request, SubscribeForm(language=page_language(request).code))


def _list(fields: Mapping[str, Any], name: str) -> list[str]:
    value = fields.get(name) or []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _checked(
    fields: Mapping[str, Any],
    departments: Sequence[str],
    categories: Sequence[str],
    language: str,
) -> tuple[SubscribeForm, Preferences | None]:
    """The form as sent, with a message per field that is wrong; a form without the
    language field (an older page) takes the page's ``language``."""
    form = SubscribeForm(
        email=str(fields.get("email") or "")[:400],
        mode=str(fields.get("mode") or ""),
        language=str(fields.get("language") or language),
        departments=tuple(_list(fields, "departments")),
        categories=tuple(_list(fields, "categories")),
    )
    errors: dict[str, str] = {}
    address = ""
    try:
        address = normalise_address(form.email)
    except InvalidAddress:
        missing = not form.email.strip()
        errors["email"] = FIELD_MESSAGES["email_missing" if missing else "email_invalid"]
    if form.mode not in MODES:
        errors["mode"] = FIELD_MESSAGES["mode"]
    if form.language not in LANGUAGES:
        errors["language"] = FIELD_MESSAGES["language"]
    if not set(form.departments) <= set(departments):
        errors["departments"] = FIELD_MESSAGES["departments"]
    if not set(form.categories) <= set(categories):
        errors["categories"] = FIELD_MESSAGES["categories"]
    if errors:
        return form.with_errors(errors), None
    prefs = Preferences(mode=form.mode, categories=form.categories, departments=form.departments)  # type: ignore[arg-type]
    return form.with_email(address), prefs


_REFUSED = {
    429: N_("신청이 너무 잦습니다. 잠시 뒤에 다시 시도해 주세요."),
    503: N_("지금은 구독 신청을 받을 수 없습니다. 잠시 뒤에 다시 시도해 주세요."),
}


def _form_answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {}}}


# The request guard refuses a post from another site before this page is reached, with a
# problem document; the page's own 403 (a stale form token) is the form again.
_REFUSED_403 = _form_answer(
    "The form's security token is missing or stale (the form again), "
    "or another site sent it (a problem document)"
)
_REFUSED_403["content"].update(PROBLEM_CONTENT["content"])


@router.post(
    "/subscribe",
    response_class=HTMLResponse,
    summary="Send the newsletter form",
    status_code=303,
    responses={
        303: {"description": "Sent: on to /subscribe/sent"},
        403: _REFUSED_403,
        422: _form_answer("The form again, each bad field marked"),
        429: _form_answer("Too many requests for this address or from this client"),
        503: _form_answer("Subscriptions cannot be taken now"),
    },
)
async def subscribe_sent_form(request: Request, background: BackgroundTasks) -> Response:
    state = _state(request)
    fields = await read_fields(request)
    if not (
        from_this_site(state.settings, request)
        and valid_token(state.settings, request, fields.get(FIELD_NAME))
    ):
        notice = N_("보안 확인 시간이 지났습니다. 내용을 확인하고 다시 보내 주세요.")
        form, _ = _checked(fields, (), (), page_language(request).code)
        return await _form_page(request, form.without_errors(), 403, notice)
    categories, departments = await run_in_threadpool(known_topic_names, state)
    form, prefs = _checked(fields, departments, categories, page_language(request).code)
    if prefs is None:
        return await _form_page(request, form, 422)
    try:
        require_token_keys(state)
        await run_in_threadpool(check_rate, request, form.email)
    except Problem as refused:
        status = refused.status if refused.status in _REFUSED else 503
        response = await _form_page(request, form, status, _REFUSED[status])
        response.headers.update(refused.headers or {})
        return response
    await start_subscription(state, background, form.email, prefs, form.language, via="form")
    # Post/redirect/get: reloading the next page never sends the form twice.
    return RedirectResponse("/subscribe/sent", status_code=303, headers=_PRIVATE)


@router.get("/subscribe/sent", response_class=HTMLResponse, summary="Check your mail")
async def subscribe_sent(request: Request) -> HTMLResponse:
    return _page(render_sent(_state(request).settings, page_language(request)))

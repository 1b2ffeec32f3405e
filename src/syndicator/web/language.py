"""Which language a resident's page is in, and what every page then says about it.

The choice, first match wins: ``?lang=ko|en`` (a link that stays shareable, remembered in
a cookie for the pages that follow), the ``lang`` cookie, then ``Accept-Language``;
Korean otherwise. Every HTML page says its ``Content-Language`` and varies on both inputs,
so a browser or front cache never hands one resident's language to the next.
The ops console is left as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syndicator.i18n import DEFAULT_LANGUAGE, LANGUAGES, language_or_none, negotiate
from syndicator.web.html.templates import PageLanguage

__all__ = [
    "COOKIE",
    "COOKIE_MAX_AGE",
    "PARAM",
    "ByLanguage",
    "SiteLanguage",
    "choose_language",
    "chosen_language",
    "page_language",
    "request_language",
    "static_page_language",
    "switch_query",
]

PARAM = "lang"
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
VARY = ("Accept-Language", "Cookie")
_UNTRANSLATED = ("/ops", "/static/", "/docs", "/redoc", "/openapi.json")
_STATE_KEY = "language"


def _query_language(query_string: str) -> str | None:
    values = [v for k, v in parse_qsl(query_string, keep_blank_values=True) if k == PARAM]
    return language_or_none(values[-1]) if values else None


def choose_language(query_string: str, cookie_header: str, accept_language: str | None) -> str:
    """The page's language from the request's query string, Cookie and Accept-Language."""
    chosen = _query_language(query_string)
    if chosen is None:
        chosen = language_or_none(cookie_parser(cookie_header).get(COOKIE))
    return chosen or negotiate(accept_language)


def chosen_language(request: Request) -> str | None:
    """The language this request asked for itself (``?lang=``, the cookie), if any."""
    return _query_language(request.url.query) or language_or_none(request.cookies.get(COOKIE))


def request_language(request: Request) -> str:
    """The language :class:`SiteLanguage` chose for this request (Korean without it)."""
    state = request.scope.get("state") or {}
    return language_or_none(state.get(_STATE_KEY)) or DEFAULT_LANGUAGE


def switch_query(query_string: str, language: str) -> str:
    """The same page's query in ``language``: the other parameters kept, in order."""
    pairs = [(k, v) for k, v in parse_qsl(query_string, keep_blank_values=True) if k != PARAM]
    return "?" + urlencode([*pairs, (PARAM, language)])


def _other(language: str) -> str:
    return next(code for code in LANGUAGES if code != language)


def page_language(request: Request) -> PageLanguage:
    """What a page's template needs: its language, and a link to itself in the other."""
    language = request_language(request)
    other = _other(language)
    return PageLanguage(language, other, switch_query(request.url.query, other))


def static_page_language(language: str, query_string: str = "") -> PageLanguage:
    """A page in ``language`` whatever the request's: a page rendered once and kept, or
    a subscriber's page in the language of their mails."""
    other = _other(language)
    return PageLanguage(language, other, switch_query(query_string, other))


class ByLanguage:
    """An ASGI endpoint per language, for pages kept rendered: the one in the request's
    language answers, so each language's copy is cached apart."""

    def __init__(self, pages: Mapping[str, ASGIApp]) -> None:
        self.pages = dict(pages)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = language_or_none((scope.get("state") or {}).get(_STATE_KEY))
        page = self.pages.get(chosen or DEFAULT_LANGUAGE) or self.pages[DEFAULT_LANGUAGE]
        await page(scope, receive, send)


class SiteLanguage:
    """ASGI middleware: chooses the language once per request, for the routes
    (:func:`request_language`), and labels and keys every HTML answer with it."""

    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(_UNTRANSLATED):
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        headers = Headers(scope=scope)
        language = choose_language(query, headers.get("cookie", ""), headers.get("accept-language"))
        scope.setdefault("state", {})[_STATE_KEY] = language
        remember = _query_language(query)

        async def send_labelled(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer = MutableHeaders(scope=message)
                if answer.get("content-type", "").startswith("text/html"):
                    answer["content-language"] = language
                    _vary(answer)
                    if remember is not None:
                        answer.append("set-cookie", self._cookie(remember))
            await send(message)

        await self.app(scope, receive, send_labelled)

    def _cookie(self, language: str) -> str:
        cookie = f"{COOKIE}={language}; Path=/; Max-Age={COOKIE_MAX_AGE}; SameSite=Lax; HttpOnly"
        return cookie + "; Secure" if self.https else cookie


def _vary(headers: MutableHeaders) -> None:
    present = [v.strip() for v in headers.get("vary", "").split(",") if v.strip()]
    lowered = {v.lower() for v in present}
    headers["vary"] = ", ".join(present + [v for v in VARY if v.lower() not in lowered])

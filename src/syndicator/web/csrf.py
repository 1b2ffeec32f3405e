"""Cross-site request forgery checks for the site's forms.

Two layers. Every form POST must come from this site: a browser's ``Sec-Fetch-Site`` or
``Origin`` naming another site is refused (clients that send neither, such as scripts,
cannot be driven by a third-party page). The subscribe form, which needs no secret to use,
also carries a signed double-submit token: a random value in a form field, and the same
value with its HMAC in a SameSite=Strict, HttpOnly cookie.

The RFC 8058 one-click POST is left out on purpose: mail clients send it with no cookie,
no origin and no form token, and the signed URL is its whole authority.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from syndicator.config import Settings
from syndicator.web.problems import Problem

__all__ = [
    "COOKIE_NAME",
    "FIELD_NAME",
    "CsrfToken",
    "SameSiteForm",
    "from_this_site",
    "issue_token",
    "sent_by_this_site",
    "valid_token",
]

COOKIE_NAME = "syndicator_csrf"
FIELD_NAME = "csrf_token"
_COOKIE_SECONDS = 2 * 60 * 60


class CsrfToken(str):
    """The value to put in the form's hidden field."""


def _key(settings: Settings) -> bytes:
    # Token keys sign the subscription links; without one a per-process key still works
    # for one server (a reload only asks the resident to send the form again).
    material = settings.token_keys[0] if settings.token_keys else _PROCESS_KEY
    return hashlib.sha256(b"csrf:" + material.encode()).digest()


_PROCESS_KEY = secrets.token_hex(32)


def _mac(settings: Settings, value: str) -> str:
    return hmac.new(_key(settings), value.encode(), hashlib.sha256).hexdigest()


def issue_token(settings: Settings, request: Request, response: Response) -> CsrfToken:
    """Reuse the visitor's valid cookie (several tabs keep working), or set a new one."""
    cookie = request.cookies.get(COOKIE_NAME, "")
    value, _, mac = cookie.partition(".")
    if not (value and hmac.compare_digest(mac, _mac(settings, value))):
        value = secrets.token_urlsafe(24)
    response.set_cookie(
        COOKIE_NAME,
        f"{value}.{_mac(settings, value)}",
        max_age=_COOKIE_SECONDS,
        path="/subscribe",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return CsrfToken(value)


def valid_token(settings: Settings, request: Request, submitted: object) -> bool:
    cookie = request.cookies.get(COOKIE_NAME, "")
    value, _, mac = cookie.partition(".")
    if not value or not isinstance(submitted, str):
        return False
    return hmac.compare_digest(mac, _mac(settings, value)) and hmac.compare_digest(submitted, value)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def from_this_site(settings: Settings, request: Request) -> bool:
    """False when the browser says the POST came from another site."""
    return sent_by_this_site(request.headers, request.url.scheme, settings.base_url)


def sent_by_this_site(headers: Mapping[str, str], scheme: str, base_url: str) -> bool:
    """``Sec-Fetch-Site`` when the browser sends it, else ``Origin`` against the base URL
    and the request's own host; a client that sends neither is no browser driven by a page.
    ``headers`` is case-insensitive (Starlette's ``Headers``)."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.strip().lower() in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return True
    here = _origin(f"{scheme}://{headers.get('host', '')}")
    return origin.strip().lower() in (_origin(base_url), here)


async def _same_site(request: Request) -> None:
    if not from_this_site(request.app.state.syndicator.settings, request):
        raise Problem(
            403,
            "Forbidden",
            "다른 사이트에서 보낸 요청은 받지 않습니다. 이 사이트의 페이지에서 다시 보내 주세요.",
            [{"field": "(origin)", "reason": "cross-site form submission"}],
        )


# A route dependency for token-bearing forms (confirm, preferences).
SameSiteForm = Depends(_same_site)

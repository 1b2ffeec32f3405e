"""The site's form tokens and same-site check: pure functions of settings and a request."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from syndicator.web.csrf import COOKIE_NAME, from_this_site, issue_token, valid_token


def _request(cookie: str = "", **headers: str) -> Request:
    raw = [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
    if cookie:
        raw.append((b"cookie", f"{COOKIE_NAME}={cookie}".encode()))
    return Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": "https",
            "path": "/subscribe",
            "headers": raw,
            "server": ("press.example.kr", 443),
        }
    )


def test_a_csrf_token_is_valid_only_with_its_signed_cookie(site_settings):
    response = Response()
    token = issue_token(site_settings, _request(), response)
    cookie = Headers(raw=response.raw_headers)["set-cookie"].split(";")[0].split("=", 1)[1]
    assert valid_token(site_settings, _request(cookie), token)
    assert not valid_token(site_settings, _request(cookie), token + "x")
    assert not valid_token(site_settings, _request(f"{token}.forged"), token)
    assert not valid_token(site_settings, _request(), token)


def test_forms_from_other_sites_are_refused(site_settings):
    assert from_this_site(site_settings, _request(sec_fetch_site="same-origin"))
    assert not from_this_site(site_settings, _request(sec_fetch_site="cross-site"))
    assert not from_this_site(site_settings, _request(sec_fetch_site="same-site"))
    assert from_this_site(site_settings, _request(origin="https://press.example.kr"))
    assert not from_this_site(site_settings, _request(origin="https://evil.example"))
    assert from_this_site(site_settings, _request())  # a script, not a browser

"""Security and caching headers for the residents' pages and their static files.

Every HTML page gets a strict Content-Security-Policy: scripts and styles only from this
origin (no inline code), forms only back to this origin, never framed. The API docs page
(Swagger UI, from vendored assets) starts itself with one inline script, so it keeps
FastAPI's own defaults.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "STATIC_CACHE_CONTROL", "SiteHeaders"]

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # Release bodies may show the city's images.
        "img-src 'self' https: data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
STATIC_CACHE_CONTROL = "public, max-age=3600"
_UNTOUCHED = ("/docs", "/redoc")


class SiteHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if scope["type"] != "http" or path.startswith(_UNTOUCHED):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add(MutableHeaders(scope=message), path)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _add(headers: MutableHeaders, path: str) -> None:
    if path.startswith("/static/"):
        headers.setdefault("cache-control", STATIC_CACHE_CONTROL)
        headers.setdefault("x-content-type-options", "nosniff")
        return
    if not headers.get("content-type", "").startswith("text/html"):
        return
    headers.setdefault("content-security-policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("x-content-type-options", "nosniff")
    headers.setdefault("referrer-policy", "strict-origin-when-cross-origin")
    headers.setdefault("cache-control", "no-cache")

"""Security and caching headers, on every response the app sends.

- Every response, JSON and problem documents included, says ``X-Content-Type-Options:
  nosniff``: a browser never guesses a script out of a body we labelled otherwise.
- ``Strict-Transport-Security`` whenever the base URL is https: once a browser has been
  here over TLS it never comes back over plain http.
- Every HTML page gets a strict Content-Security-Policy: scripts and styles only from this
  origin (no inline code), forms only back to this origin, never framed. The API docs
  page (Swagger UI, from vendored assets) starts itself with one inline script, so its
  policy only forbids framing.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "DOCS_CONTENT_SECURITY_POLICY",
    "STATIC_CACHE_CONTROL",
    "STRICT_TRANSPORT_SECURITY",
    "SiteHeaders",
]

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
DOCS_CONTENT_SECURITY_POLICY = "frame-ancestors 'none'"
STATIC_CACHE_CONTROL = "public, max-age=3600"
# Two years, the preload list's figure; no includeSubDomains: the city's other hosts are
# not ours to bind.
STRICT_TRANSPORT_SECURITY = "max-age=63072000"
_DOCS = ("/docs", "/redoc")


class SiteHeaders:
    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("x-content-type-options", "nosniff")
                if self.https:
                    headers.setdefault("strict-transport-security", STRICT_TRANSPORT_SECURITY)
                _add(headers, path)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _add(headers: MutableHeaders, path: str) -> None:
    if path.startswith("/static/"):
        headers.setdefault("cache-control", STATIC_CACHE_CONTROL)
        return
    if path.startswith(_DOCS):
        headers.setdefault("content-security-policy", DOCS_CONTENT_SECURITY_POLICY)
        return
    if not headers.get("content-type", "").startswith("text/html"):
        return
    headers.setdefault("content-security-policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("referrer-policy", "strict-origin-when-cross-origin")
    headers.setdefault("cache-control", "no-cache")

"""The one gate every request passes before routing: :mod:`syndicator.web.request_policy`.

In order: a form another site sent is refused (403); a media type the route does not take
is refused (415); a declared ``Content-Length`` over the route's cap is refused (413) at
once, without reading a byte of the body. A body without a declared length (chunked) is
read here, up to the cap and never past it, before any route, dependency or token check
runs; one byte over is a 413. The route then gets the body as it was sent.

Every refusal is a problem document. One sent while the client may still be sending its
body asks to close the connection, so the server does not read the rest.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syndicator.web.csrf import sent_by_this_site
from syndicator.web.problems import problem
from syndicator.web.request_policy import Policy, PolicyTable, media_type

__all__ = ["RequestGuard"]


_CROSS_SITE_DETAIL = (
    "다른 사이트에서 보낸 요청은 받지 않습니다. 이 사이트의 페이지에서 다시 보내 주세요."
)


class _Refusal(Exception):
    def __init__(self, status: int, title: str, detail: str, field: str, reason: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.field, self.reason = field, reason


class _Disconnected(Exception):
    pass


class RequestGuard:
    def __init__(self, app: ASGIApp, table: PolicyTable, base_url: str) -> None:
        self.app = app
        self.table = table
        self.base_url = base_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.table.policy_for(scope["method"], scope["path"])
        headers = Headers(scope=scope)
        chunked = "transfer-encoding" in headers
        declared = _declared_length(headers)
        has_body = chunked or bool(declared)
        try:
            self._check_head(scope, headers, policy, declared, has_body)
            if not has_body:
                await self.app(scope, receive, send)
                return
            body = await _read_capped(receive, policy.max_bytes)
        except _Refusal as refusal:
            await _refuse(refusal, close=has_body, scope=scope, receive=receive, send=send)
            return
        except _Disconnected:
            return
        await self.app(scope, _replay(body, receive), send)

    def _check_head(
        self,
        scope: Scope,
        headers: Headers,
        policy: Policy,
        declared: int | None,
        has_body: bool,
    ) -> None:
        if policy.same_site_only and not sent_by_this_site(
            headers, scope.get("scheme", "http"), self.base_url
        ):
            raise _Refusal(
                403,
                "Forbidden",
                _CROSS_SITE_DETAIL,
                "(origin)",
                "cross-site form submission",
            )
        content_type = headers.get("content-type")
        media = media_type(content_type) if content_type is not None else None
        if policy.media_types and (media is not None or has_body) and not policy.accepts(media):
            said = "no Content-Type" if media is None else f"media type {media!r}"
            raise _Refusal(
                415,
                "Unsupported Media Type",
                f"send {policy.described_types()}",
                "content-type",
                f"{said} is not accepted here",
            )
        if declared is not None and declared > policy.max_bytes:
            raise _too_large(policy.max_bytes)


def _declared_length(headers: Headers) -> int | None:
    # The HTTP parser refuses a malformed Content-Length before the app sees it.
    value = headers.get("content-length")
    return int(value) if value is not None and value.strip().isdigit() else None


def _too_large(limit: int) -> _Refusal:
    reason = f"the body must be at most {limit} bytes"
    return _Refusal(413, "Content Too Large", reason, "(body)", reason)


async def _read_capped(receive: Receive, limit: int) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        body += message.get("body", b"")
        if len(body) > limit:
            raise _too_large(limit)
        if not message.get("more_body", False):
            return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then whatever the server says next (a disconnect)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


async def _refuse(
    refusal: _Refusal, *, close: bool, scope: Scope, receive: Receive, send: Send
) -> None:
    response = problem(
        refusal.status,
        refusal.title,
        refusal.detail,
        [{"field": refusal.field, "reason": refusal.reason}],
        headers={"Connection": "close"} if close else None,
    )
    await response(scope, receive, send)

"""One partner post through aiohttp against a real HTTP server on loopback: the answer is
classified by the shared table, redirects are not followed, an answer is kept to its
excerpt, a silent partner times out, and the guard refuses networks not allowed."""

from __future__ import annotations

import asyncio

from aiohttp import web

from syndicator.channels.http_outcomes import RESPONSE_LIMIT, HttpOutcome
from syndicator.channels.webhook_http import guarded_session, post

LOOPBACK = ["127.0.0.0/8"]


async def _partner(request: web.Request) -> web.StreamResponse:
    match request.path:
        case "/ok":
            return web.Response(status=200, text=(await request.read()).decode())
        case "/busy":
            return web.Response(status=503, headers={"Retry-After": "7"})
        case "/moved":
            raise web.HTTPFound("/ok")
        case "/huge":
            return web.Response(status=500, body=b"x" * (RESPONSE_LIMIT * 3))
        case "/silent":
            await asyncio.sleep(3600)  # never answers; the client's timeout ends it
    return web.Response(status=404)


def posted(path: str, networks: list[str] = LOOPBACK, total: float = 5.0) -> HttpOutcome:
    async def scenario() -> HttpOutcome:
        runner = web.AppRunner(_app(), shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        session = guarded_session(networks)
        try:
            url = f"http://localhost:{port}{path}"
            return await post(
                session,
                url,
                b'{"a":1}',
                {"content-type": "application/json"},
                total_timeout=total,
                connect_timeout=total,
            )
        finally:
            await session.close()
            await runner.cleanup()

    return asyncio.run(scenario())


def _app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _partner)
    return app


def test_a_2xx_is_delivered_with_the_body_sent() -> None:
    result = posted("/ok")
    assert result.ok and result.status_code == 200 and result.response == '{"a":1}'


def test_a_503_is_retried_after_the_partners_retry_after() -> None:
    result = posted("/busy")
    assert not result.ok and result.retryable and result.retry_after == 7


def test_a_redirect_is_not_followed() -> None:
    result = posted("/moved")
    assert not result.ok and result.status_code == 302


def test_a_huge_answer_is_kept_to_its_excerpt() -> None:
    result = posted("/huge")
    assert result.status_code == 500 and len(result.response or "") <= RESPONSE_LIMIT


def test_a_silent_partner_times_out_as_retryable() -> None:
    result = posted("/silent", total=0.5)
    assert not result.ok and result.retryable and "no answer within 0.5 s" in result.detail


def test_the_guard_refuses_a_network_not_allowed() -> None:
    result = posted("/ok", networks=[])
    assert not result.ok and result.status_code == 0

"""Both HTTP clients, httpx (WebSub) and raw aiohttp (partner webhooks), log the same
outcome for the same answer from a real aiohttp receiver."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicator.channels.http import async_client, send_async
from syndicator.channels.http_outcomes import HttpOutcome
from syndicator.channels.webhook_http import guarded_session, post
from tests.integration.webhook_receiver import Receiver, Reply, receiver
from tests.services import free_port

LOOPBACK = ("127.0.0.0/8",)
_names = itertools.count()
STATUSES = (200, 201, 204, 301, 302, 307, 400, 401, 404, 408, 409, 410, 413, 422, 425, 429)
STATUSES += (500, 501, 502, 503, 504, 599)


@pytest.fixture(scope="module")
def partner() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def _seen(result: HttpOutcome) -> tuple[object, ...]:
    return (
        result.ok,
        result.retryable,
        result.error_class,
        result.status_code,
        result.retry_after,
        result.response,
    )


def both(url: str, timeout: float = 10.0) -> tuple[HttpOutcome, HttpOutcome]:
    """The same request through each client, one after the other."""

    async def run() -> tuple[HttpOutcome, HttpOutcome]:
        async with async_client() as client:
            through_httpx = await send_async(
                lambda: client.post(url, content=b"{}", timeout=timeout)
            )
        async with guarded_session(LOOPBACK) as session:
            through_aiohttp = await post(session, url, b"{}", {}, timeout, timeout)
        return through_httpx, through_aiohttp

    return asyncio.run(run())


def scripted(partner: Receiver, reply: Reply) -> str:
    name = f"p{next(_names)}"
    partner.script(name, reply, reply)
    return partner.url(name)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    status=st.sampled_from(STATUSES),
    retry_after=st.none() | st.integers(0, 200_000).map(str) | st.just("soon"),
    body=st.sampled_from([b"", b"ok", "받았습니다".encode(), b"x" * 500]),
)
def test_the_same_answer_is_the_same_outcome_through_either_client(
    partner: Receiver, status: int, retry_after: str | None, body: bytes
):
    headers = {"location": "https://elsewhere.example/"} if 300 <= status < 400 else {}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    url = scripted(partner, Reply(status=status, headers=headers, body=body))
    through_httpx, through_aiohttp = both(url)
    assert _seen(through_httpx) == _seen(through_aiohttp)
    assert through_httpx.detail == through_aiohttp.detail
    assert through_aiohttp.status_code == status


def test_a_reset_connection_is_the_same_outcome_through_either_client(partner: Receiver):
    through_httpx, through_aiohttp = both(scripted(partner, Reply(reset=True)))
    assert _seen(through_httpx) == _seen(through_aiohttp)
    assert (through_aiohttp.error_class, through_aiohttp.retryable) == ("connect", True)


def test_a_refused_port_is_the_same_outcome_through_either_client():
    through_httpx, through_aiohttp = both(f"http://127.0.0.1:{free_port()}/hook")
    assert _seen(through_httpx) == _seen(through_aiohttp)
    assert (through_aiohttp.error_class, through_aiohttp.status_code) == ("connect", 0)


def test_no_answer_in_time_is_the_same_outcome_through_either_client(partner: Receiver):
    through_httpx, through_aiohttp = both(scripted(partner, Reply(delay=30)), timeout=0.5)
    assert _seen(through_httpx) == _seen(through_aiohttp)
    assert (through_aiohttp.error_class, through_aiohttp.retryable) == ("timeout", True)

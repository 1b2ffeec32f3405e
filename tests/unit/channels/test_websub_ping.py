"""The WebSub publisher ping: a form POST naming the topic, classified like every HTTP
answer, and a bad hub URL blamed on the setting that holds it."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import httpx
import pytest

from syndicator.channels.websub_ping import ping_hub, ping_hub_async

TOPIC = "https://press.example.kr/feeds/all.atom"


def test_the_ping_is_a_publish_form_naming_the_topic() -> None:
    seen: list[httpx.Request] = []

    def hub(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with httpx.Client(transport=httpx.MockTransport(hub)) as client:
        result = ping_hub(client, "https://hub.example/", TOPIC)
    assert result.ok
    (request,) = seen
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {"hub.mode": ["publish"], "hub.url": [TOPIC]}


@pytest.mark.parametrize(("code", "retryable"), [(503, True), (429, True), (400, False)])
def test_the_hubs_answer_is_classified_the_same_sync_and_async(code: int, retryable: bool) -> None:
    def hub(request: httpx.Request) -> httpx.Response:
        return httpx.Response(code)

    with httpx.Client(transport=httpx.MockTransport(hub)) as client:
        sync = ping_hub(client, "https://hub.example/", TOPIC)

    async def ping() -> object:
        async with httpx.AsyncClient(transport=httpx.MockTransport(hub)) as client:
            return await ping_hub_async(client, "https://hub.example/", TOPIC)

    assert sync == asyncio.run(ping())
    assert not sync.ok and sync.retryable is retryable and sync.status_code == code


def test_a_bad_hub_url_names_its_setting() -> None:
    with httpx.Client() as client:
        result = ping_hub(client, "not a url", TOPIC)
    assert not result.ok and not result.retryable
    assert "SYNDICATOR_WEBSUB_HUB" in result.detail

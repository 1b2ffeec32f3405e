"""WebSub publisher ping (W3C WebSub 2018 section 7): tell the hub a topic URL changed.

Answers and errors are classified once, by the shared HTTP helper (``channels/http.py``):
2xx accepted; timeouts, transport errors, 408/425/429 and 5xx retryable; another 4xx (the
hub refuses the topic) permanent.
"""

from __future__ import annotations

from dataclasses import replace

import httpx

from syndicator.channels.http import HttpResult, send, send_async

__all__ = ["PingResult", "ping_hub", "ping_hub_async"]

PingResult = HttpResult

_FORM_HEADERS = {"Accept": "*/*"}


def _form(topic_url: str) -> dict[str, str]:
    return {"hub.mode": "publish", "hub.url": topic_url}


def ping_hub(client: httpx.Client, hub_url: str, topic_url: str) -> PingResult:
    """POST ``hub.mode=publish&hub.url=<topic>`` as a form; never raises for network or
    HTTP failures, it classifies them."""
    result = send(lambda: client.post(hub_url, data=_form(topic_url), headers=_FORM_HEADERS))
    return _for_hub(result)


async def ping_hub_async(client: httpx.AsyncClient, hub_url: str, topic_url: str) -> PingResult:
    result = await send_async(
        lambda: client.post(hub_url, data=_form(topic_url), headers=_FORM_HEADERS)
    )
    return _for_hub(result)


def _for_hub(result: HttpResult) -> PingResult:
    # A bad hub URL is SYNDICATOR_WEBSUB_HUB's fault: name it so operators know where to look.
    return (
        replace(result, error_class="E_HUB_URL")
        if result.error_class == "E_INVALID_URL"
        else result
    )

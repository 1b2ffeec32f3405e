"""WebSub publisher ping (W3C WebSub 2018 section 7): tell the hub a topic URL changed.

Answers and errors are classified once, by the classifier every HTTP channel shares
(``channels/http_outcomes.py``): 2xx accepted; network errors, 408/409/425/429 and 5xx
retryable; another 4xx (the hub refuses the topic) permanent.
"""

from __future__ import annotations

from dataclasses import replace

import httpx

from syndicator.channels.http import send, send_async
from syndicator.channels.http_outcomes import HttpOutcome

__all__ = ["ping_hub", "ping_hub_async"]

_FORM_HEADERS = {"Accept": "*/*"}


def _form(topic_url: str) -> dict[str, str]:
    return {"hub.mode": "publish", "hub.url": topic_url}


def ping_hub(client: httpx.Client, hub_url: str, topic_url: str) -> HttpOutcome:
    """POST ``hub.mode=publish&hub.url=<topic>`` as a form; never raises for network or
    HTTP failures, it classifies them."""
    result = send(lambda: client.post(hub_url, data=_form(topic_url), headers=_FORM_HEADERS))
    return _for_hub(result)


async def ping_hub_async(client: httpx.AsyncClient, hub_url: str, topic_url: str) -> HttpOutcome:
    result = await send_async(
        lambda: client.post(hub_url, data=_form(topic_url), headers=_FORM_HEADERS)
    )
    return _for_hub(result)


def _for_hub(result: HttpOutcome) -> HttpOutcome:
    # A bad hub URL is SYNDICATOR_WEBSUB_HUB's fault: name it so operators know where to look.
    if result.error_class != "invalid-url":
        return result
    return replace(result, detail=f"SYNDICATOR_WEBSUB_HUB is not a URL to post to: {result.detail}")

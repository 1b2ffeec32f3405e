"""WebSub publisher ping (W3C WebSub 2018 section 7): tell the hub a topic URL changed."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

__all__ = ["PingResult", "ping_hub"]

# Hubs answer 2xx for an accepted ping; these statuses mean "try again later".
_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_DETAIL_CHARS = 300


@dataclass(frozen=True)
class PingResult:
    ok: bool
    retryable: bool
    error_class: str | None  # None on success; E_HTTP_<status>, E_TIMEOUT, E_TRANSPORT
    detail: str | None
    status_code: int | None = None


def _classify(response: httpx.Response) -> PingResult:
    status = response.status_code
    if 200 <= status < 300:
        return PingResult(True, False, None, f"hub answered {status}", status)
    retryable = status in _RETRYABLE_STATUS or status >= 500
    body = response.text[:_DETAIL_CHARS].strip()
    return PingResult(
        False, retryable, f"E_HTTP_{status}", f"hub answered {status}: {body}", status
    )


def ping_hub(client: httpx.Client, hub_url: str, topic_url: str) -> PingResult:
    """POST ``hub.mode=publish&hub.url=<topic>`` as a form; never raises for network or HTTP
    failures, it classifies them: timeouts and transport errors, 408/425/429 and 5xx are
    retryable, other answers (a 4xx: the hub refuses the topic) are permanent."""
    try:
        response = client.post(
            hub_url,
            data={"hub.mode": "publish", "hub.url": topic_url},
            headers={"Accept": "*/*"},
        )
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        # A misconfigured hub URL does not heal by itself.
        return PingResult(False, False, "E_HUB_URL", f"{type(exc).__name__}: {exc}")
    except httpx.TimeoutException as exc:
        return PingResult(False, True, "E_TIMEOUT", f"{type(exc).__name__}: {exc}")
    except httpx.TransportError as exc:
        return PingResult(False, True, "E_TRANSPORT", f"{type(exc).__name__}: {exc}")
    return _classify(response)

"""PLACEHOLDER until the feeds helper lands its module."""
from __future__ import annotations
from dataclasses import dataclass
import httpx
@dataclass(frozen=True)
class PingResult:
    ok: bool
    retryable: bool
    error_class: str | None
    detail: str | None
def ping_hub(client: httpx.Client, hub_url: str, topic_url: str) -> PingResult:
    raise NotImplementedError

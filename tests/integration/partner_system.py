"""The running system as partner tests drive it: an environment whose partners may be on
this machine, and the delivery log read back through the admin API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.system import RunningSystem, system_env

__all__ = ["ADMIN", "api_deliveries", "partner_system_env"]

ADMIN = {"Authorization": "Bearer admin-token-for-tests"}  # system_env's admin token


def partner_system_env(
    tmp_path: Path, database_url: str, redis_url: str, cms_secret: str, **extra: str
) -> dict[str, str]:
    """``system_env``, with loopback allowed: the test's receiver listens on 127.0.0.1."""
    return system_env(
        tmp_path,
        database_url,
        redis_url,
        cms_secret,
        SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
        **extra,
    )


def api_deliveries(
    system: RunningSystem, partner_id: int, status: str | None = None
) -> list[dict[str, Any]]:
    """The partner's deliveries (with ``status`` only, if given), oldest first."""
    params: dict[str, Any] = {"partner": partner_id}
    if status is not None:
        params["status"] = status
    page = system.http.get(f"{system.url}/api/deliveries", params=params, headers=ADMIN).json()
    return sorted(page["items"], key=lambda d: d["id"])

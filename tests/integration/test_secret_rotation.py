"""Rotating the CMS secret over HTTP: while SYNDICATOR_CMS_SECRET holds "<new> <old>",
events signed with either are accepted; a flood of signatures is refused cheaply."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from syndicator.config import load_settings
from syndicator.events.signing import generate_secret
from syndicator.store.migrate import upgrade
from syndicator.web.app import create_app
from tests.factories import make_event
from tests.live_server import serve

NEW, OLD = generate_secret(), generate_secret()


@pytest.fixture
def client(tmp_path: Path, database_url: str, redis_url: str) -> Iterator[httpx.Client]:
    settings = load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(tmp_path / "var"),
            "SYNDICATOR_DATABASE_URL": database_url,
            "SYNDICATOR_REDIS_URL": redis_url,
            "SYNDICATOR_CMS_SECRET": f"{NEW} {OLD}",
        }
    )
    upgrade(settings.database_url)
    with serve(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


def signed_post(
    client: httpx.Client, secret: str, release_id: int, signature: str | None = None
) -> httpx.Response:
    """Signed by the standardwebhooks library itself, not by our own helper."""
    body = json.dumps(make_event(release_id), ensure_ascii=False)
    msg_id, now = f"msg_rotation_{release_id}", datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature or Webhook(secret).sign(msg_id, now, body),
    }
    return client.post("/hooks/cms", content=body.encode(), headers=headers)


def test_events_signed_with_the_new_or_the_old_secret_are_accepted(client):
    assert signed_post(client, NEW, 1).status_code == 202
    assert signed_post(client, OLD, 2).status_code == 202


def test_an_event_signed_with_a_retired_secret_is_refused(client):
    answer = signed_post(client, generate_secret(), 3)
    assert answer.status_code == 401


def test_a_300000_entry_signature_header_is_refused(client):
    flood = " ".join(["v1,AAAA"] * 300_000)  # about 2.4 MB, each entry a well-formed miss
    answer = signed_post(client, NEW, 4, signature=flood)
    assert answer.status_code == 401
    assert "signature header too large" in answer.text

"""Hostile input over HTTP, on SQLite and PostgreSQL: every event either gets a 4xx naming
the field, or a 202 and then renders; nothing is ever a 500, and nothing half-done stays."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta
from typing import Any

import feedparser
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import select

from syndicator.config import Settings
from syndicator.feeds.publish import publish_changes
from syndicator.runtime.status import collect_status
from syndicator.store.models import Quarantine
from tests.factories import make_event
from tests.integration.test_hook_intake import counts, post
from tests.services import redis_answers
from tests.strategies import deep, event_documents, to_body, wire_depth


def post_raw(client: httpx.Client, secret: str, body: bytes, msg_id: str) -> httpx.Response:
    """Sign the bytes as Standard Webhooks does, whatever they are (even not UTF-8)."""
    timestamp = str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }
    return client.post("/hooks/cms", content=body, headers=headers)


def assert_problem(answer: httpx.Response) -> dict[str, Any]:
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    problem = answer.json()
    assert problem["status"] == answer.status_code and problem["detail"]
    return problem


def site_feeds_parse(app_settings: Settings) -> None:
    for name in ("rss.xml", "atom.xml"):
        data = (app_settings.feeds_export_dir / name).read_bytes()
        etree.fromstring(data)
        parsed = feedparser.parse(data)
        assert not parsed.bozo, parsed.get("bozo_exception")
    json.loads((app_settings.feeds_export_dir / "feed.json").read_bytes())


def test_any_event_gets_a_4xx_or_a_202_and_then_renders(client, app_settings, store):
    """The property test over the whole event schema, through the real intake."""
    counter = iter(range(10**9))

    @given(event_documents(), st.booleans(), wire_depth)
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    def check(document: dict[str, Any], ascii_only: bool, depth: int) -> None:
        body = to_body(document, ascii_only, depth)
        answer = post_raw(client, app_settings.cms_secret, body, f"msg_prop_{next(counter)}")
        assert answer.status_code in {202, 400, 413, 422}, answer.text
        if answer.status_code != 202:
            problem = assert_problem(answer)
            if answer.status_code in {400, 422}:
                assert all(e["field"] and e["reason"] for e in problem["errors"]), problem
            return
        if answer.json()["status"] != "applied":
            return
        release_id = document["release"]["id"]
        publish_changes(store, app_settings, [release_id])
        with store.session() as session:
            held = session.scalars(select(Quarantine)).all()
        assert not held, [(q.release_id, q.error_class, q.detail) for q in held]
        site_feeds_parse(app_settings)

    check()


@pytest.mark.parametrize(
    ("case", "status", "field"),
    [
        ("json nested 1,000 levels", 400, "(body)"),
        ("json nested 100,000 levels", 400, "(body)"),
        ("5,000-digit integer", 400, "(body)"),
        ("id of 2^63", 422, "release.id"),
        ("id of 2^31", 422, "release.id"),
        ("views of 2^63", 422, "release.views"),
        ("views of 2^31", 422, "release.views"),
        ("id true", 422, "release.id"),
        ('id "12"', 422, "release.id"),
        ("year 1", 422, "release.published_at"),
        ("year 9999", 422, "release.published_at"),
        ("unix time", 422, "release.published_at"),
        ("category of 201 characters", 422, "release.categories.0"),
        ("department of 201 characters", 422, "release.department"),
        ("title of control characters", 422, "release.title"),
        ("webhook-id of 201 characters", 400, "webhook-id"),
        ("not UTF-8", 400, None),
    ],
)
def test_input_the_client_controls_is_never_a_500(client, app_settings, store, case, status, field):
    """Each of these once answered 500 (or, on PostgreSQL, raised DataError)."""
    event = make_event(5)
    release = event["release"]
    msg_id = "msg_bad"
    body: bytes | None = None
    if case.startswith("json nested"):
        levels = 1000 if "1,000" in case else 100_000
        body = json.dumps(event)[:-1].encode() + b', "deep": ' + b"[" * levels + b"]" * levels
        body += b"}"
    elif case == "5,000-digit integer":
        body = json.dumps(event).replace('"views": 107', '"views": ' + "9" * 5000).encode()
    elif case.startswith(("id of", "views of")):
        name, _, power = case.partition(" of 2^")
        release[name] = 2 ** int(power)
    elif case == "id true":
        release["id"] = True
    elif case == 'id "12"':
        release["id"] = "12"
    elif case == "year 1":
        release["published_at"] = "0001-01-01T00:00:00+09:00"
    elif case == "year 9999":
        release["published_at"] = release["updated_at"] = "9999-12-31T20:00:00+00:00"
    elif case == "unix time":
        release["published_at"] = 1666483200
    elif case == "category of 201 characters":
        release["categories"] = ["가" * 201]
    elif case == "department of 201 characters":
        release["department"] = "과" * 201
    elif case == "title of control characters":
        release["title"] = "\u0000"
    elif case == "webhook-id of 201 characters":
        msg_id = "m" * 201
    elif case == "not UTF-8":
        body = json.dumps(event, ensure_ascii=False).encode("euc-kr", errors="replace")
    if body is None:
        body = json.dumps(event, ensure_ascii=False).encode()
    answer = post_raw(client, app_settings.cms_secret, body, msg_id)
    assert answer.status_code == status, answer.text
    problem = assert_problem(answer)
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]], problem
        assert all(e["reason"] for e in problem["errors"])
    assert counts(store) == (0, 0, 0)
    # And the intake still works: nothing half-done was left behind.
    assert post(client, app_settings.cms_secret, make_event(6)).status_code == 202


def test_replay_with_a_different_body_is_a_duplicate_counted_and_logged(
    client, app_settings, store, caplog
):
    secret = app_settings.cms_secret
    first = post(client, secret, make_event(10), msg_id="msg_reused")
    same = post(client, secret, make_event(10), msg_id="msg_reused")
    with caplog.at_level(logging.WARNING, logger="syndicator.intake"):
        other = post(client, secret, make_event(10, title="다른 본문"), msg_id="msg_reused")
    assert first.status_code == same.status_code == other.status_code == 202
    assert other.json()["status"] == "duplicate"
    assert other.json()["event_id"] == first.json()["event_id"]
    assert counts(store) == (1, 1, 1)
    assert any("different body" in r.getMessage() for r in caplog.records)
    redis_url = app_settings.redis_url
    assert redis_url is not None and redis_answers(redis_url)
    import redis

    report = collect_status(
        store, redis.Redis.from_url(redis_url), stale_after=timedelta(seconds=20)
    )
    assert report.mismatched_replays == 1  # the identical resend is not counted


def test_a_deep_document_in_a_field_is_refused_not_recursed(client, app_settings, store):
    event = make_event(5)
    event["release"]["categories"] = deep(30)
    answer = post(client, app_settings.cms_secret, event)
    assert answer.status_code == 422
    fields = [e["field"] for e in assert_problem(answer)["errors"]]
    assert fields and all(f.startswith("release.categories") for f in fields), fields

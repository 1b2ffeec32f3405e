"""The CMS hook: the full bad-input matrix, idempotent replay, stale versions, durability."""

from __future__ import annotations

import json
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from syndicator.channels.registry import ALL_QUEUES
from syndicator.config import Settings
from syndicator.events.schema import CmsEvent
from syndicator.events.signing import sign_headers
from syndicator.intake.accept import accept_event
from syndicator.runtime.coordination import mark_beat, mark_consuming
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import Event, OutboxEntry, Release
from syndicator.web.app import create_app
from tests.factories import make_event
from tests.live_server import serve


def post(
    client: httpx.Client,
    secret: str,
    event: object,
    *,
    msg_id: str | None = None,
    body: bytes | None = None,
    content_type: str = "application/json",
    when: datetime | None = None,
) -> httpx.Response:
    raw = body if body is not None else json.dumps(event, ensure_ascii=False).encode()
    headers = {"content-type": content_type, **sign_headers(secret, raw, msg_id=msg_id, now=when)}
    return client.post("/hooks/cms", content=raw, headers=headers)


def counts(store: Database) -> tuple[int, int, int]:
    with store.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Event)) or 0,
            session.scalar(select(func.count()).select_from(OutboxEntry)) or 0,
            session.scalar(select(func.count()).select_from(Release)) or 0,
        )


def test_accepts_signed_event_after_commit(client, app_settings, store):
    answer = post(client, app_settings.cms_secret, make_event(867))
    assert answer.status_code == 202
    body = answer.json()
    assert body["event_id"].startswith("evt_") and body["status"] == "applied" and body["queued"]
    assert counts(store) == (1, 1, 1)
    with store.session() as session:
        release = session.get(Release, 867)
        assert release is not None and release.title == make_event(867)["release"]["title"]
        assert release.published_at.utcoffset() == timedelta(0)


def test_signature_is_verifiable_by_the_reference_library(app_settings):
    body = json.dumps(make_event(1)).encode()
    headers = sign_headers(app_settings.cms_secret, body)
    Webhook(app_settings.cms_secret).verify(body, headers)


@pytest.mark.parametrize(
    ("case", "status", "field"),
    [
        ("no signature", 401, "webhook-signature"),
        ("wrong secret", 401, "webhook-signature"),
        ("expired", 401, "webhook-signature"),
        ("from the future", 401, "webhook-signature"),
        ("garbled signature", 401, "webhook-signature"),
        ("tampered body", 401, "webhook-signature"),
        ("malformed json", 400, "(body)"),
        ("missing title", 422, "release.title"),
        ("unknown type", 422, "type"),
        ("naive datetime", 422, "release.published_at"),
        ("negative size", 422, "release.attachments.0.size"),
        ("relative url", 422, "release.url"),
        ("extra field", 422, "release.surprise"),
        ("too large", 413, None),
        ("text/plain", 415, "content-type"),
    ],
)
def test_bad_input_is_rejected_and_nothing_is_stored(
    client, app_settings, store, case, status, field
):
    secret = app_settings.cms_secret
    event = make_event(5)
    raw = json.dumps(event).encode()
    if case == "no signature":
        answer = client.post(
            "/hooks/cms", content=raw, headers={"content-type": "application/json"}
        )
    elif case == "wrong secret":
        other = "whsec_" + "A" * 43 + "="
        answer = post(client, other, event)
    elif case == "expired":
        answer = post(client, secret, event, when=datetime.now(UTC) - timedelta(minutes=6))
    elif case == "from the future":
        answer = post(client, secret, event, when=datetime.now(UTC) + timedelta(minutes=6))
    elif case == "garbled signature":
        headers = {"content-type": "application/json", **sign_headers(secret, raw)}
        headers["webhook-signature"] = "not-a-signature"
        answer = client.post("/hooks/cms", content=raw, headers=headers)
    elif case == "tampered body":
        headers = {"content-type": "application/json", **sign_headers(secret, raw)}
        answer = client.post("/hooks/cms", content=raw.replace(b"5", b"6"), headers=headers)
    elif case == "malformed json":
        answer = post(client, secret, None, body=b'{"type": "release.published", ')
    elif case == "missing title":
        del event["release"]["title"]
        answer = post(client, secret, event)
    elif case == "unknown type":
        event["type"] = "release.deleted"
        answer = post(client, secret, event)
    elif case == "naive datetime":
        event["release"]["published_at"] = "2022-10-23T09:00:00"
        answer = post(client, secret, event)
    elif case == "negative size":
        event["release"]["attachments"][0]["size"] = -1
        answer = post(client, secret, event)
    elif case == "relative url":
        event["release"]["url"] = "/press/5"
        answer = post(client, secret, event)
    elif case == "extra field":
        event["release"]["surprise"] = True
        answer = post(client, secret, event)
    elif case == "too large":
        event["release"]["body_html"] = "<p>" + "가" * 400_000 + "</p>"
        answer = post(client, secret, event)
    else:
        answer = post(client, secret, event, content_type="text/plain")
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert problem["status"] == status and problem["detail"]
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]], problem
        assert all(e["reason"] for e in problem["errors"])
    assert counts(store) == (0, 0, 0)


def test_same_webhook_id_is_accepted_once_and_acknowledged_twice(client, app_settings, store):
    first = post(client, app_settings.cms_secret, make_event(10), msg_id="msg_same")
    second = post(client, app_settings.cms_secret, make_event(10), msg_id="msg_same")
    assert first.status_code == second.status_code == 202
    assert second.json()["event_id"] == first.json()["event_id"]
    assert second.json()["status"] == "duplicate" and not second.json()["queued"]
    assert counts(store) == (1, 1, 1)


def test_older_version_changes_nothing_and_says_so(client, app_settings, store):
    secret = app_settings.cms_secret
    newer = make_event(20, updated_at="2022-10-24T10:00:00+09:00", title="새 제목")
    older = make_event(
        20, updated_at="2022-10-23T10:00:00+09:00", title="옛 제목", type="release.updated"
    )
    assert post(client, secret, newer).json()["status"] == "applied"
    answer = post(client, secret, older)
    assert answer.status_code == 202
    assert answer.json()["status"] == "stale" and not answer.json()["queued"]
    assert "newer version" in answer.json()["message"]
    with store.session() as session:
        assert session.get(Release, 20).title == "새 제목"
    assert counts(store) == (2, 1, 1)


def test_identical_resend_under_new_id_is_unchanged(client, app_settings, store):
    secret = app_settings.cms_secret
    assert post(client, secret, make_event(21)).json()["status"] == "applied"
    assert post(client, secret, make_event(21)).json()["status"] == "unchanged"
    assert counts(store) == (2, 1, 1)


def test_update_and_retraction_apply_in_order(client, app_settings, store):
    secret = app_settings.cms_secret
    post(client, secret, make_event(30, updated_at="2022-10-23T10:00:00+09:00"))
    updated = post(
        client,
        secret,
        make_event(
            30, type="release.updated", title="고친 제목", updated_at="2022-10-23T11:00:00+09:00"
        ),
    )
    assert updated.json()["status"] == "applied"
    retracted = post(
        client,
        secret,
        make_event(30, type="release.retracted", updated_at="2022-10-23T12:00:00+09:00"),
    )
    assert retracted.json()["status"] == "applied"
    with store.session() as session:
        release = session.get(Release, 30)
        assert release.title == make_event(30)["release"]["title"]
        assert release.retracted_at == datetime(2022, 10, 23, 3, 0, tzinfo=UTC)
    assert counts(store) == (3, 3, 1)


def test_text_is_cleaned_once_on_intake(client, app_settings, store):
    nfd_title = unicodedata.normalize("NFD", "대구시 보도자료") + "\x07\x1b"
    event = make_event(
        40,
        title=nfd_title,
        body_html='<p onclick="x()">본문<script>alert(1)</script>'
        '<a href="javascript:alert(1)">링크</a></p>',
    )
    assert post(client, app_settings.cms_secret, event).status_code == 202
    with store.session() as session:
        release = session.get(Release, 40)
        assert release.title == "대구시 보도자료"
        assert "script" not in release.body_html and "onclick" not in release.body_html
        assert "javascript:" not in release.body_html
        assert "본문" in release.body_html


def test_intake_answers_202_while_redis_is_down(settings: Settings):
    upgrade(settings.database_url)
    dead = settings.with_(redis_url="redis://127.0.0.1:1/0")
    with serve(create_app(dead)) as url, httpx.Client(base_url=url, timeout=30) as test_client:
        answer = post(test_client, settings.cms_secret, make_event(50))
    assert answer.status_code == 202 and answer.json()["queued"]
    with Database(settings.database_url) as database, database.session() as session:
        waiting = session.scalars(select(OutboxEntry).where(OutboxEntry.relayed_at.is_(None)))
        assert [row.event_id for row in waiting] == [answer.json()["event_id"]]


def test_openapi_documents_the_event_contract(client):
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/hooks/cms"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CmsEvent"
    )
    assert {"202", "400", "401", "413", "415", "422"} <= set(operation["responses"])
    assert "release" in spec["components"]["schemas"]["CmsEvent"]["properties"]
    assert client.get("/docs").status_code == 200


def test_concurrent_first_versions_of_one_release_are_all_accepted(app_settings, store):
    versions = [
        make_event(60, updated_at=f"2022-10-23T1{n}:00:00+09:00", title=f"판 {n}") for n in range(6)
    ]
    databases = [Database(app_settings.database_url) for _ in versions]
    with ThreadPoolExecutor(max_workers=len(versions)) as pool:
        results = list(
            pool.map(
                lambda pair: accept_event(
                    pair[0],
                    CmsEvent.model_validate(pair[1]),
                    webhook_id=f"msg_{pair[1]['release']['title']}",
                ),
                zip(databases, versions, strict=True),
            )
        )
    for database in databases:
        database.dispose()
    assert len({r.event_id for r in results}) == len(versions)
    with store.session() as session:
        assert session.get(Release, 60).title == "판 5"  # the newest version wins


def test_web_readiness_is_the_database_and_redis(client, app_settings):
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_pipeline_ready_only_while_every_queue_is_consumed_and_beat_runs(client, app_settings):
    answer = client.get("/readyz/pipeline")
    assert answer.status_code == 503
    causes = answer.json()["causes"]
    assert any("feeds queue" in c for c in causes) and any("beat" in c for c in causes)
    redis_client = redis.Redis.from_url(app_settings.redis_url)
    for queue in ALL_QUEUES[:-1]:
        mark_consuming(redis_client, queue)
    mark_beat(redis_client)
    blocked = client.get("/readyz/pipeline").json()["causes"]
    assert blocked == [f"no worker has consumed the {ALL_QUEUES[-1]} queue in the last minute"]
    mark_consuming(redis_client, ALL_QUEUES[-1], database="OperationalError: no such host")
    blocked = client.get("/readyz/pipeline").json()["causes"]
    assert blocked == [f"workers on the {ALL_QUEUES[-1]} queue cannot reach the database"]
    operator = {"Authorization": f"Bearer {app_settings.admin_token}"}
    blocked = client.get("/readyz/pipeline", headers=operator).json()["causes"]
    assert len(blocked) == 1 and "cannot reach the database" in blocked[0]
    assert "no such host" in blocked[0]
    mark_consuming(redis_client, ALL_QUEUES[-1])
    flowing = client.get("/readyz/pipeline")
    assert flowing.status_code == 200 and flowing.json() == {"status": "flowing", "causes": []}
    redis_client.close()


def test_web_is_not_ready_before_migrate(settings, redis_url):
    fresh = settings.with_(redis_url=redis_url)  # never migrated
    operator = {"Authorization": f"Bearer {fresh.admin_token}"}
    with serve(create_app(fresh)) as url, httpx.Client(base_url=url, timeout=30) as http:
        answer = http.get("/readyz")
        detailed = http.get("/readyz", headers=operator)
    assert answer.status_code == 503
    assert answer.json()["checks"] == {"database": "not migrated", "redis": "ok"}
    assert detailed.json()["details"]["schema"].endswith("run: syndicator migrate")


def test_database_outage_is_a_retryable_503_not_a_silent_loss(settings, redis_url):
    dead = settings.with_(
        database_url="postgresql+psycopg://postgres@127.0.0.1:1/none", redis_url=redis_url
    )
    with serve(create_app(dead)) as url, httpx.Client(base_url=url, timeout=30) as http:
        answer = post(http, settings.cms_secret, make_event(70))
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert "not stored" in answer.json()["detail"]

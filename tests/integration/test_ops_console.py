"""The ops console over real HTTP: access, CSRF, every page, every action and its audit
record, the release story, pausing a channel with real rows, pipeline health, and /docs
with no host but ours."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser

import httpx
import pytest
import redis
from sqlalchemy import select

from syndicator.channels.registry import ALL_QUEUES
from syndicator.config import Settings
from syndicator.delivery.runner import run_due
from syndicator.ledger.claims import due_for_retry, has_due
from syndicator.ops.audit import api_actor
from syndicator.runtime.coordination import mark_beat, mark_consuming
from syndicator.store.db import Database
from syndicator.store.models import Delivery, utcnow
from syndicator.web.app import create_app
from tests.integration.console_support import (
    RecordingEmail,
    add_partners,
    audit_rows,
    deliver_webhooks,
    release,
)
from tests.live_server import serve
from tests.services import free_port

TOKEN = "test-admin-token"
BEARER = {"Authorization": f"Bearer {TOKEN}", "X-Operator": "tester"}
HTML = {"Accept": "text/html"}


@dataclass
class Console:
    url: str
    settings: Settings
    db: Database
    redis: redis.Redis


@pytest.fixture
def console(app_settings: Settings) -> Iterator[Console]:
    port = free_port()
    # Plain http here, so the session cookie is not Secure and httpx sends it back.
    settings = app_settings.with_(base_url=f"http://127.0.0.1:{port}")
    client = redis.Redis.from_url(settings.redis_url or "")
    with serve(create_app(settings), port) as url, Database(settings.database_url) as db:
        yield Console(url, settings, db, client)
    client.close()


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "input" and named.get("name"):
            self.fields[named["name"] or ""] = named.get("value") or ""


def form_fields(html: str) -> dict[str, str]:
    parser = _Forms()
    parser.feed(html)
    return parser.fields


def login(http: httpx.Client, who: str = "김운영") -> None:
    page = http.get("/ops/login")
    fields = form_fields(page.text)
    answer = http.post(
        "/ops/login", data={**fields, "who": who, "token": TOKEN}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/ops"


def confirm_and_act(
    http: httpx.Client, action: str, target: object, **extra: str
) -> httpx.Response:
    page = http.get(f"/ops/confirm/{action}", params={"target": str(target)})
    assert page.status_code == 200, page.text
    fields = {**form_fields(page.text), **extra}
    return http.post(f"/ops/actions/{action}", data=fields)


def test_without_a_token_the_console_redirects_to_login_or_answers_401(console):
    with httpx.Client(timeout=30, base_url=console.url) as http:
        browser = http.get("/ops", headers=HTML)
        assert browser.status_code == 303
        assert browser.headers["location"] == "/ops/login?next=/ops"
        script = http.get("/ops/failures")
        assert script.status_code == 401
        assert script.headers["content-type"].startswith("application/problem+json")
        wrong = http.get("/ops", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert http.post("/ops/actions/pause", data={"target": "email"}).status_code == 401
        assert http.get("/ops", headers=BEARER).status_code == 200


def test_login_sets_a_strict_session_cookie_and_refuses_a_wrong_token(console):
    with httpx.Client(timeout=30, base_url=console.url) as http:
        form = http.get("/ops/login")
        assert 'lang="ko"' in form.text
        fields = form_fields(form.text)
        wrong = http.post("/ops/login", data={**fields, "who": "x", "token": "nope"})
        assert wrong.status_code == 401 and "관리자 토큰이 맞지 않습니다" in wrong.text
        forged = http.post("/ops/login", data={"csrf_token": "x", "who": "x", "token": TOKEN})
        assert forged.status_code == 403
        answer = http.post("/ops/login", data={**fields, "who": "김운영", "token": TOKEN})
        assert answer.status_code == 303
        cookie = next(c for c in answer.headers.get_list("set-cookie") if "syndicator_ops=" in c)
        lowered = cookie.lower()
        assert "httponly" in lowered and "samesite=strict" in lowered and "path=/ops" in lowered
        assert "max-age=28800" in lowered and "secure" not in lowered  # http base URL
        page = http.get("/ops")
        assert page.status_code == 200 and "김운영" in page.text


def test_the_session_cookie_is_secure_behind_https(app_settings):
    app = create_app(app_settings)  # base URL https://press.example.kr
    transport = httpx.ASGITransport(app=app)

    async def run() -> str:
        async with httpx.AsyncClient(
            transport=transport, base_url="https://press.example.kr"
        ) as http:
            fields = form_fields((await http.get("/ops/login")).text)
            answer = await http.post("/ops/login", data={**fields, "who": "a", "token": TOKEN})
            return next(c for c in answer.headers.get_list("set-cookie") if "syndicator_ops=" in c)

    try:
        assert "secure" in asyncio.run(run()).lower()
    finally:  # no lifespan ran to close the sessions table's connections
        app.state.syndicator.db.dispose()


def test_every_console_form_needs_the_sessions_csrf_token(console):
    with httpx.Client(timeout=30, base_url=console.url) as http:
        login(http)
        no_token = http.post("/ops/actions/pause", data={"target": "email", "confirm": "yes"})
        assert no_token.status_code == 403
        assert no_token.json()["errors"][0]["field"] == "csrf_token"
        page = http.get("/ops/confirm/pause", params={"target": "email"})
        fields = form_fields(page.text)
        cross = http.post(
            "/ops/actions/pause", data=fields, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert cross.status_code == 403
        unconfirmed = http.post("/ops/actions/pause", data={**fields, "confirm": ""})
        assert unconfirmed.status_code == 422
    with httpx.Client(timeout=30, base_url=console.url) as other:
        login(other, "다른 사람")
        stolen = other.post("/ops/actions/pause", data=fields)  # another session's token
        assert stolen.status_code == 403
    assert audit_rows(console.db) == []


def test_pages_render_in_korean_with_the_numbers(console):
    event_id = release(console.db)
    add_partners(console.db)
    deliver_webhooks(console.db, event_id)
    with httpx.Client(timeout=30, base_url=console.url) as http:
        login(http)
        for path in (
            "/ops",
            "/ops/failures",
            "/ops/people",
            "/ops/releases",
            "/ops/outbox",
            "/ops/mail",
            "/ops/audit",
        ):
            page = http.get(path)
            assert page.status_code == 200, path
            assert '<html lang="ko">' in page.text
            assert "script-src 'self'" in page.headers["content-security-policy"]
            assert "<script>" not in page.text  # no inline code
        overview = http.get("/ops").text
        for queue in ALL_QUEUES:
            assert f'data-queue="{queue}"' in overview
        failures = http.get("/ops/failures").text
        assert 'data-target="webhooks/partner:2"' in failures
        assert 'data-target="webhooks/partner:3"' in failures
        assert "partner:1" not in failures
        assert "HTTP 410 &lt;b&gt;gone&lt;/b&gt;" in failures  # escaped
        people = http.get("/ops/people").text
        assert "파트너 a" in people and 'data-partner="3"' in people
        chart = http.get("/ops/charts/attempts.svg")
        assert chart.headers["content-type"].startswith("image/svg+xml")
        assert "<polyline" in chart.text and "webhooks (3)" in chart.text


def test_a_release_tells_its_whole_story(console):
    event_id = release(console.db, 7)
    add_partners(console.db)
    ids = deliver_webhooks(console.db, event_id)
    with httpx.Client(timeout=30, base_url=console.url, follow_redirects=True) as http:
        login(http)
        page = http.get("/ops/releases", params={"release": 7})
        assert str(page.url).endswith("/ops/releases/7")
        assert event_id in page.text and "release.published" in page.text
        assert 'data-channel="webhooks"' in page.text
        for delivery_id in ids:
            assert f'data-delivery="{delivery_id}"' in page.text
        for target in ("partner:1", "partner:2", "partner:3"):
            assert target in page.text
        assert "succeeded 1" in page.text and "failed 1" in page.text
        assert "HTTP 503" in page.text and "HTTP 410" in page.text
        assert http.get("/ops/releases/999").status_code == 404


def test_actions_work_and_each_is_audited(console):
    event_id = release(console.db)
    add_partners(console.db)
    ids = deliver_webhooks(console.db, event_id)
    with console.db.session() as session:
        session.add(
            Delivery(
                key=f"{event_id}:email:subscriber:5",
                event_id=event_id,
                channel="email",
                target="subscriber:5",
                status="failed",
                attempts=3,
            )
        )
    with httpx.Client(timeout=30, base_url=console.url) as http:
        login(http, "김운영")
        done = confirm_and_act(http, "replay", ids[0])
        assert done.status_code == 200 and "다시 보냅니다" in done.text
        recovered = confirm_and_act(http, "recover", 3, hours="1")
        assert recovered.status_code == 200 and "1건" in recovered.text
        resent = confirm_and_act(http, "resend", 7)
        assert resent.status_code == 200 and "1건" in resent.text
        missing = confirm_and_act(http, "replay", 999_999)
        assert missing.status_code == 409
        audit_page = http.get("/ops/audit").text
    with console.db.session() as session:
        rows = {d.target: d for d in session.scalars(select(Delivery))}
        assert (rows["partner:1"].status, rows["partner:1"].trigger) == ("pending", "manual")
        assert (rows["partner:3"].status, rows["partner:3"].trigger) == ("pending", "manual")
        assert (rows["subscriber:5"].status, rows["subscriber:5"].trigger) == ("pending", "manual")
    assert audit_rows(console.db) == [
        ("console:김운영", "replay", f"delivery:{ids[0]}"),
        ("console:김운영", "recover", "partner:3"),
        ("console:김운영", "resend", "release:7"),
    ]
    assert audit_page.count('class="audit-entry"') == 3


def test_bearer_clients_act_too_and_are_named_in_theaudit_rows(console):
    with httpx.Client(timeout=30, base_url=console.url, headers=BEARER) as http:
        answer = http.post("/ops/actions/pause", data={"target": "email", "confirm": "yes"})
        assert answer.status_code == 200 and "일시 중지했습니다" in answer.text
        bad = http.post("/ops/actions/pause", data={"target": "carrier-pigeon", "confirm": "yes"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "target"
    who = api_actor(TOKEN, "tester")
    assert audit_rows(console.db) == [(who, "pause", "channel:email")]


def _email_rows(db: Database, event_id: str, n: int, first: int = 0) -> None:
    old = utcnow() - timedelta(minutes=5)  # old enough for the sweeper
    with db.session() as session:
        for i in range(first, first + n):
            session.add(
                Delivery(
                    key=f"{event_id}:email:subscriber:{i}",
                    event_id=event_id,
                    channel="email",
                    target=f"subscriber:{i}",
                    created_at=old,
                )
            )


def test_a_paused_channel_keeps_its_rows_pending_and_resume_releases_every_one(console):
    event_id = release(console.db)
    _email_rows(console.db, event_id, 25)
    with httpx.Client(timeout=30, base_url=console.url) as http:
        login(http)
        assert confirm_and_act(http, "pause", "email").status_code == 200
        assert 'data-state="paused"' in http.get("/ops").text
        mail = RecordingEmail()
        with console.db.session() as session:
            ids = list(session.scalars(select(Delivery.id).where(Delivery.channel == "email")))
            assert not has_due(session, "email")
            assert "email" not in due_for_retry(session)  # the sweeper has nothing to spin on
        # A deliver task queued before the pause, and a coalescing run: neither sends.
        assert run_due(console.db, mail, ids) == [] and run_due(console.db, mail, None) == []
        _email_rows(console.db, event_id, 5, first=100)  # planned while paused: they wait too
        assert run_due(console.db, mail, None) == [] and mail.sent == []
        with console.db.session() as session:
            statuses = list(
                session.scalars(select(Delivery.status).where(Delivery.channel == "email"))
            )
            assert statuses == ["pending"] * 30
        assert confirm_and_act(http, "resume", "email").status_code == 200
    with console.db.session() as session:
        ids = list(session.scalars(select(Delivery.id).where(Delivery.channel == "email")))
        assert sorted(due_for_retry(session)["email"]) == sorted(ids)
    run_due(console.db, mail, ids)
    assert sorted(mail.sent) == sorted(ids)  # every row, once
    with console.db.session() as session:
        statuses = list(session.scalars(select(Delivery.status).where(Delivery.channel == "email")))
    assert statuses == ["succeeded"] * 30
    assert [a[1:] for a in audit_rows(console.db)] == [
        ("pause", "channel:email"),
        ("resume", "channel:email"),
    ]


def _health(http: httpx.Client) -> str:
    found = re.search(r'data-health="(\w+)"', http.get("/ops").text)
    assert found
    return found.group(1)


def test_pipeline_health_fails_without_a_fresh_worker_heartbeat_and_recovers(console):
    client = console.redis
    with httpx.Client(timeout=30, base_url=console.url, headers=BEARER) as http:
        assert _health(http) == "blocked"
        for queue in ALL_QUEUES:
            mark_consuming(client, queue)
        mark_beat(client)
        assert _health(http) == "flowing"
        # The worker stops: its heartbeats lapse (as their TTL would make them).
        for key in client.scan_iter("syndicator:consum*"):
            client.delete(key)
        page = http.get("/ops").text
        assert 'data-health="blocked"' in page and 'data-kind="no_consumer"' in page
        for queue in ALL_QUEUES:
            mark_consuming(client, queue)
        assert _health(http) == "flowing"


def test_the_email_outbox_is_readable_and_escaped(console):
    outbox = console.settings.data_dir / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    name = "20261128T120000-0123456789ab.eml"
    (outbox / name).write_bytes(
        b"From: City <press@example.kr>\r\nTo: a@example.com\r\n"
        b"Subject: =?utf-8?b?" + base64.b64encode("보도자료 <script>".encode()) + b"?=\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + "안녕하세요 <img src=x>\r\n".encode()
    )
    with httpx.Client(timeout=30, base_url=console.url) as http:
        login(http)
        listing = http.get("/ops/mail").text
        assert name in listing
        page = http.get(f"/ops/mail/{name}").text
        assert "보도자료 &lt;script&gt;" in page and "안녕하세요 &lt;img src=x&gt;" in page
        assert http.get("/ops/mail/..%2F..%2Fsecrets").status_code == 404
        assert http.get("/ops/mail/passwd.eml").status_code == 404


def test_docs_load_swagger_ui_from_this_host_only(console):
    with httpx.Client(timeout=30, base_url=console.url) as http:
        page = http.get("/docs")
        assert page.status_code == 200
        urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
        assert urls and all(u.startswith("/") for u in urls), urls
        assert not re.search(r"https?://", page.text)
        assert "validatorUrl" in page.text
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
            assert http.get(f"/static/vendor/swagger-ui/{asset}").status_code == 200
        assert http.get("/redoc").status_code == 404

"""The console's view of bounces and complaints over real HTTP: each newsletter's rates
(the deliverability page and the release's page), a pause the complaint check made with
its reason and an operator's resume, and a subscriber's story with every report's
evidence, why they are suppressed, and the audited, CSRF-guarded unsuppress."""

from __future__ import annotations

import html
from collections.abc import Iterator

import httpx
import pytest
import redis
from sqlalchemy import select

from syndicator.config import Settings
from syndicator.ops.complaint_guard import ComplaintLimit, check_complaints
from syndicator.store.db import Database
from syndicator.store.models import AuditEntry, NewsletterSend, Subscriber, utcnow
from syndicator.web.app import create_app
from tests.feedback_support import add_delivery, add_feedback
from tests.integration.console_support import audit_rows, release
from tests.integration.test_ops_console import Console, confirm_and_act, form_fields, login
from tests.live_server import serve
from tests.newsletter_support import add_subscriber
from tests.services import free_port

EVIDENCE = (
    "Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; gone@example.org\n"
    "Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <gone@...>: no such user"
)


@pytest.fixture
def console(app_settings: Settings) -> Iterator[Console]:
    port = free_port()
    settings = app_settings.with_(base_url=f"http://127.0.0.1:{port}")
    client = redis.Redis.from_url(settings.redis_url or "")
    with serve(create_app(settings), port) as url, Database(settings.database_url) as db:
        yield Console(url, settings, db, client)
    client.close()


def _mailed_release(db: Database, sent: int, complaints: int, bounces: int) -> str:
    """Release 7's newsletter: ``sent`` messages, with reports on the first few."""
    event_id = release(db)
    with db.session() as session:
        session.add(
            NewsletterSend(
                event_id=event_id, sent=sent, first_sent_at=utcnow(), last_sent_at=utcnow()
            )
        )
        for n in range(complaints):
            add_feedback(session, add_delivery(session, event_id, 1000 + n), "complaint")
        for n in range(bounces):
            add_feedback(session, add_delivery(session, event_id, 2000 + n), "hard_bounce")
    return event_id


def test_each_newsletters_rates_show_on_its_page_and_the_releases(console: Console):
    event_id = _mailed_release(console.db, sent=2000, complaints=6, bounces=50)
    with httpx.Client(base_url=console.url, timeout=30) as http:
        login(http)
        page = http.get("/ops/newsletters")
        story = http.get("/ops/releases/7")
    assert page.status_code == 200
    assert f'data-event="{event_id}"' in page.text
    assert '<td class="num rate" data-kind="complaint">6 (0.30%)</td>' in page.text
    assert '<td class="num rate" data-kind="hard_bounce">50 (2.50%)</td>' in page.text
    assert 'data-state="running"' in page.text
    assert 'id="newsletter-rates"' in story.text
    assert '<td class="num rate" data-kind="complaint">6 (0.30%)</td>' in story.text


def test_the_complaint_checks_pause_says_why_and_an_operator_resumes(console: Console):
    _mailed_release(console.db, sent=2000, complaints=6, bounces=0)
    reason = check_complaints(console.db, ComplaintLimit(0.3, 1000))
    assert reason
    with httpx.Client(base_url=console.url, timeout=30) as http:
        login(http, "박운영")
        overview = http.get("/ops").text
        newsletters = http.get("/ops/newsletters").text
        assert html.escape(reason) in overview and html.escape(reason) in newsletters
        assert 'data-state="paused"' in newsletters
        assert confirm_and_act(http, "resume", "email").status_code == 200
        assert 'data-state="running"' in http.get("/ops/newsletters").text
    assert audit_rows(console.db) == [
        ("syndicator:complaint-rate", "pause", "channel:email"),
        ("console:박운영", "resume", "channel:email"),
    ]


def _suppressed(db: Database, kind: str) -> tuple[int, str]:
    subscriber_id = add_subscriber(db, f"{kind}@example.org", status="suppressed")
    event_id = release(db)
    with db.session() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        row.suppressed_kind, row.suppressed_at = kind, utcnow()
        delivery = add_delivery(session, event_id, subscriber_id)
        add_feedback(
            session,
            delivery,
            kind,
            subscriber_id=subscriber_id,
            source="pipe",
            status="5.1.1",
            diagnostic="smtp; 550 5.1.1 <x>: no such user",
            answered="<news.1@press.example.kr>",
            evidence=EVIDENCE,
        )
    return subscriber_id, event_id


def test_a_subscribers_story_shows_each_report_and_why_they_are_suppressed(console: Console):
    subscriber_id, _ = _suppressed(console.db, "hard_bounce")
    with httpx.Client(base_url=console.url, timeout=30) as http:
        login(http)
        page = http.get(f"/ops/subscribers/{subscriber_id}")
        missing = http.get("/ops/subscribers/999999")
        found = http.get("/ops/subscribers", params={"subscriber": subscriber_id})
    assert page.status_code == 200, page.text
    text = page.text
    assert 'data-suppressed-kind="hard_bounce"' in text and "영구 반송" in text
    for shown in ("5.1.1", "&lt;news.1@press.example.kr&gt;", "pipe", "보도자료 7"):
        assert shown in text, shown
    assert html.escape("Final-Recipient: rfc822; gone@example.org") in text  # the evidence
    assert "hard_bounce@example.org" not in text, "the console shows no address"
    assert missing.status_code == 404
    assert (found.status_code, found.headers["location"]) == (
        303,
        f"/ops/subscribers/{subscriber_id}",
    )


def test_an_operator_lifts_any_kind_of_suppression_with_csrf_and_an_audit_row(console: Console):
    subscriber_id, _ = _suppressed(console.db, "complaint")
    with httpx.Client(base_url=console.url, timeout=30) as http:
        login(http, "김운영")
        page = http.get("/ops/confirm/unsuppress", params={"target": subscriber_id})
        fields = form_fields(page.text)
        forged = http.post("/ops/actions/unsuppress", data={**fields, "csrf_token": "forged"})
        assert forged.status_code == 403
        done = http.post("/ops/actions/unsuppress", data=fields)
        assert done.status_code == 200 and "해제했습니다" in done.text
        again = confirm_and_act(http, "unsuppress", subscriber_id)
        assert again.status_code == 409
        story = http.get(f"/ops/subscribers/{subscriber_id}").text
    assert 'data-status="unsubscribed"' in story and "data-suppressed-kind" not in story
    with console.db.read_session() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None and (row.status, row.suppressed_kind) == ("unsubscribed", None)
        (detail,) = session.scalars(select(AuditEntry.detail))
    assert detail == "was complaint"
    assert audit_rows(console.db) == [
        ("console:김운영", "unsuppress", f"subscriber:{subscriber_id}")
    ]

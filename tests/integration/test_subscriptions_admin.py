"""The operators' subscriber API: list, export, erase, resend; and the CLI beside it."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from syndicator.config import Settings
from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import import_events
from syndicator.ledger.targets import insert_targets
from syndicator.ops.audit import api_actor
from syndicator.store.db import Database
from syndicator.store.models import (
    AuditEntry,
    Delivery,
    DeliveryAttempt,
    Event,
    Subscriber,
    utcnow,
)
from syndicator.subscriptions.importing import ImportRow, import_chunk, parse_rows
from tests.factories import make_event
from tests.system import run_cli
from tests.topics import name_topics

ADMIN = {"Authorization": "Bearer test-admin-token"}


def _import(store: Database, text: str, consented: bool = False) -> None:
    rows = [r for r in parse_rows(io.StringIO(text)) if isinstance(r, ImportRow)]
    with store.session() as session:
        import_chunk(session, rows, consented, "test")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/subscribers"),
        ("GET", "/api/subscribers.csv"),
        ("DELETE", "/api/subscribers/1"),
        ("POST", "/api/releases/1/resend-email"),
    ],
)
def test_admin_routes_need_the_token(client: httpx.Client, method: str, path: str) -> None:
    assert client.request(method, path).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.request(method, path, headers=wrong).status_code == 401


def test_subscribers_are_listed_in_keyset_pages(client: httpx.Client, store: Database) -> None:
    _import(store, "".join(f"r{n}@example.org,daily,경제;복지\n" for n in range(5)))
    first = client.get("/api/subscribers", params={"limit": 2}, headers=ADMIN).json()
    assert [s["email"] for s in first["items"]] == ["r0@example.org", "r1@example.org"]
    assert first["items"][0]["categories"] == ["경제", "복지"]
    seen = [s["id"] for s in first["items"]]
    page = first
    while page["next"]:
        page = client.get(page["next"], headers=ADMIN).json()
        seen += [s["id"] for s in page["items"]]
    assert len(seen) == len(set(seen)) == 5
    assert (
        client.get("/api/subscribers", params={"status": "active"}, headers=ADMIN).json()["items"]
        == []
    )
    bad = client.get("/api/subscribers", params={"status": "gone"}, headers=ADMIN)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"


def test_a_suppressed_subscriber_is_listed_with_why(client: httpx.Client, store: Database) -> None:
    _import(store, "fine@example.org\nbounced@example.org\n", consented=True)
    with store.session() as session:
        row = session.scalars(select(Subscriber).where(Subscriber.email == "bounced@example.org"))
        bounced = row.one()
        bounced.status, bounced.suppressed_kind = "suppressed", "hard_bounce"
        bounced.suppressed_reason, bounced.suppressed_at = "5.1.1 user unknown", utcnow()
    items = client.get("/api/subscribers", headers=ADMIN).json()["items"]
    why = {s["email"]: (s["suppressed_kind"], s["suppressed_reason"]) for s in items}
    assert why == {
        "fine@example.org": (None, None),
        "bounced@example.org": ("hard_bounce", "5.1.1 user unknown"),
    }
    assert all((s["suppressed_at"] is None) == (s["status"] != "suppressed") for s in items)


def test_the_csv_export_streams_every_subscriber(client: httpx.Client, store: Database) -> None:
    _import(store, "".join(f"r{n}@example.org,weekly,,위생정책과\n" for n in range(1200)), True)
    with client.stream("GET", "/api/subscribers.csv", headers=ADMIN) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        text = "".join(answer.iter_text())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1200
    assert rows[0]["email"] == "r0@example.org"
    assert (rows[0]["mode"], rows[0]["departments"], rows[0]["status"]) == (
        "weekly",
        "위생정책과",
        "active",
    )
    # What it exports imports back.
    assert all(isinstance(r, ImportRow) for r in parse_rows(io.StringIO(text)))


# Valid addresses (atext allows = + - in a local part) that a spreadsheet would run.
_FORMULA_ADDRESSES = ("=1+2@example.org", "-2+3@example.org", "+cmd@example.org")


def _formula_free(text: str) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values())
    return rows


def test_exports_never_start_a_cell_like_a_formula_and_import_back(
    client: httpx.Client, store: Database, app_settings: Settings, tmp_path: Path
) -> None:
    _import(store, "".join(f"{address},daily\n" for address in _FORMULA_ADDRESSES), True)
    from_api = _formula_free(client.get("/api/subscribers.csv", headers=ADMIN).text)
    assert [row["email"] for row in from_api] == ["'" + a for a in _FORMULA_ADDRESSES]
    out = tmp_path / "out.csv"
    exported = run_cli("subscribers", "export", "-o", str(out), **_cli_env(app_settings))
    assert exported.returncode == 0, exported.stderr
    text = out.read_text(encoding="utf-8")
    assert _formula_free(text) == from_api
    back = [r for r in parse_rows(io.StringIO(text, newline="")) if isinstance(r, ImportRow)]
    assert [row.address for row in back] == list(_FORMULA_ADDRESSES)


def _ledger_for(store: Database, subscriber_id: int, status: str = "failed") -> str:
    """A release with an event and one email delivery to the subscriber, with an attempt
    whose reply quotes the address."""
    import_events(store, [CmsEvent.model_validate(make_event(41))])
    with store.session() as session:
        event_id = session.scalars(select(Event.id).where(Event.release_id == 41)).one()
        insert_targets(session, event_id, "email", [f"subscriber:{subscriber_id}"])
        delivery = session.scalars(select(Delivery).where(Delivery.event_id == event_id)).one()
        delivery.status = status
        delivery.attempts = 1
        delivery.last_error = "550 5.1.1 <r0@example.org>: no such user"
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                number=1,
                started_at=utcnow() - timedelta(minutes=1),
                duration_ms=3.0,
                outcome=status,
                status_code=550,
                response="550 5.1.1 <r0@example.org>: no such user",
                detail="mailbox_gone: 550 5.1.1 <r0@example.org>",
            )
        )
    return event_id


def test_erasing_a_subscriber_leaves_no_personal_data(
    client: httpx.Client, store: Database
) -> None:
    _import(store, "r0@example.org,daily,경제\n", True)
    with store.session() as session:
        subscriber_id = session.scalars(select(Subscriber.id)).one()
    _ledger_for(store, subscriber_id)

    assert client.delete(f"/api/subscribers/{subscriber_id}", headers=ADMIN).status_code == 204
    listed = client.get("/api/subscribers", headers=ADMIN).json()["items"][0]
    assert (listed["email"], listed["status"], listed["categories"]) == (None, "erased", [])
    with store.session() as session:
        delivery = session.scalars(select(Delivery)).one()
        attempt = session.scalars(select(DeliveryAttempt)).one()
        assert delivery.target == f"subscriber:{subscriber_id}"
        assert (delivery.last_error, attempt.response, attempt.detail) == (None, None, None)
        assert attempt.status_code == 550  # what happened stays; who it was does not
    export = client.get("/api/subscribers.csv", headers=ADMIN).text
    assert "example.org" not in export
    # Twice is fine; an unknown id is a 404 problem.
    assert client.delete(f"/api/subscribers/{subscriber_id}", headers=ADMIN).status_code == 204
    missing = client.delete("/api/subscribers/999", headers=ADMIN)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("status", "requeued"), [("failed", 1), ("uncertain", 1), ("succeeded", 0)]
)
def test_resend_requeues_the_failed_and_uncertain_email_of_a_release(
    client: httpx.Client, store: Database, status: str, requeued: int
) -> None:
    _import(store, "r0@example.org\n", True)
    _ledger_for(store, 1, status)
    answer = client.post("/api/releases/41/resend-email", headers=ADMIN)
    assert answer.status_code == 202
    assert answer.json() == {"release_id": 41, "requeued": requeued}
    with store.session() as session:
        delivery = session.scalars(select(Delivery)).one()
    if requeued:
        assert (delivery.status, delivery.trigger, delivery.next_attempt_at) == (
            "pending",
            "manual",
            None,
        )
    else:
        assert delivery.status == status
    assert client.post("/api/releases/999/resend-email", headers=ADMIN).status_code == 404


def _cli_env(settings: Settings) -> dict[str, str]:
    return {
        "SYNDICATOR_DATA_DIR": str(settings.data_dir),
        "SYNDICATOR_DATABASE_URL": settings.database_url,
        "SYNDICATOR_TOKEN_KEYS": " ".join(settings.token_keys),
    }


def test_cli_import_reports_bad_rows_by_line_and_carries_on(
    app_settings: Settings, store: Database, tmp_path: Path
) -> None:
    name_topics(store)
    file = tmp_path / "list.csv"
    file.write_text(
        "email,mode,categories,departments\n"
        "a@example.org,daily,경제;복지,\n"
        "not-an-address,daily,,\n"
        "b@example.org,hourly,,\n"
        '"c@example.org",weekly,"경제",위생정책과\n'
        "\n"
        "a@example.org,weekly,,\n"
        "d@example.org\n"
        "e@example.org,daily,,없는과;위생정책과\n",
        encoding="utf-8",
    )
    result = run_cli("subscribers", "import", str(file), **_cli_env(app_settings))
    assert result.returncode == 3, result.stderr
    assert "line 3:" in result.stderr and "line 4:" in result.stderr
    assert "mode" in result.stderr.split("line 4:")[1].splitlines()[0]
    # A department no release has named: the row is refused, saying which name.
    assert "departments: no such department: 없는과" in result.stderr.split("line 9:")[1]
    assert "imported 3 subscribers" in result.stdout
    with store.session() as session:
        rows = {s.email: s for s in session.scalars(select(Subscriber))}
    assert set(rows) == {"a@example.org", "c@example.org", "d@example.org"}
    assert {(s.status, s.consent) for s in rows.values()} == {("pending", "import")}
    assert rows["a@example.org"].mode == "daily"  # the first line for an address wins

    again = tmp_path / "again.csv"
    again.write_text("e@example.org,weekly\na@example.org,weekly\n", encoding="utf-8")
    result = run_cli("subscribers", "import", str(again), "--consented", **_cli_env(app_settings))
    assert result.returncode == 0, result.stderr
    assert "1 already on the list" in result.stdout
    with store.session() as session:
        rows = {s.email: s for s in session.scalars(select(Subscriber))}
    assert (rows["e@example.org"].status, rows["e@example.org"].consent) == (
        "active",
        "import_consented",
    )
    assert rows["a@example.org"].status == "pending"  # an import never changes anyone


def test_cli_list_export_erase_resend(
    app_settings: Settings, store: Database, tmp_path: Path
) -> None:
    env = _cli_env(app_settings)
    _import(store, "r0@example.org,daily,경제\nr1@example.org\n", True)
    listed = run_cli("subscribers", "list", "--json", **env)
    assert listed.returncode == 0, listed.stderr
    assert "r1@example.org" in listed.stdout
    out = tmp_path / "out.csv"
    assert run_cli("subscribers", "export", "-o", str(out), **env).returncode == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3
    erased = run_cli("subscribers", "erase", "1", "--yes", **env)
    assert erased.returncode == 0, erased.stderr
    assert run_cli("subscribers", "erase", "99", "--yes", **env).returncode == 1
    _ledger_for(store, 2)
    resent = run_cli("subscribers", "resend", "41", **env)
    assert resent.returncode == 0 and "1 email deliveries" in resent.stdout
    assert run_cli("subscribers", "resend", "999", **env).returncode == 1


def _audit(store: Database) -> list[tuple[str, str, str]]:
    with store.session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(row.who, row.action, row.target) for row in rows]


def test_admin_actions_are_audited_with_who_did_them(
    client: httpx.Client, store: Database, app_settings: Settings
) -> None:
    _import(store, "r0@example.org\n", True)
    _ledger_for(store, 1)
    assert client.post("/api/releases/41/resend-email", headers=ADMIN).status_code == 202
    operator = {**ADMIN, "X-Operator": "kim"}
    assert client.delete("/api/subscribers/1", headers=operator).status_code == 204
    resent = run_cli("subscribers", "resend", "41", **_cli_env(app_settings))
    assert resent.returncode == 0, resent.stderr
    who, action, target = _audit(store)[-1]
    assert (who.startswith("cli"), action, target) == (True, "resend", "release:41")
    api = api_actor(app_settings.admin_token or "")
    assert _audit(store)[1:3] == [
        (api, "resend", "release:41"),
        (f"{api}:kim", "erase", "subscriber:1"),
    ]


def test_cli_unsuppress_lifts_a_bounce_and_is_audited(
    app_settings: Settings, store: Database
) -> None:
    _import(store, "bounced@example.org\nfine@example.org\n", True)
    with store.session() as session:
        row = session.scalars(select(Subscriber).where(Subscriber.email == "bounced@example.org"))
        row.one().status = "suppressed"
    env = _cli_env(app_settings)
    lifted = run_cli("subscribers", "unsuppress", "bounced@EXAMPLE.org", **env)
    assert lifted.returncode == 0, lifted.stderr
    assert run_cli("subscribers", "unsuppress", "bounced@example.org", **env).returncode == 1
    assert run_cli("subscribers", "unsuppress", "fine@example.org", **env).returncode == 1
    assert run_cli("subscribers", "unsuppress", "nobody@example.org", **env).returncode == 1
    assert run_cli("subscribers", "unsuppress", "not an address", **env).returncode == 2
    with store.session() as session:
        statuses = {s.email: s.status for s in session.scalars(select(Subscriber))}
    assert statuses == {"bounced@example.org": "unsubscribed", "fine@example.org": "active"}
    who, action, target = _audit(store)[-1]
    assert (who.startswith("cli"), action, target) == (True, "unsuppress", "subscriber:1")
    assert [row[1] for row in _audit(store)].count("unsuppress") == 1


@pytest.mark.parametrize("kind", ["hard_bounce", "soft_bounce", "complaint", "smtp"])
def test_the_api_lifts_every_kind_of_suppression_and_audits_which(
    client: httpx.Client, store: Database, kind: str
) -> None:
    _import(store, "stopped@example.org\n", True)
    with store.session() as session:
        row = session.scalars(select(Subscriber)).one()
        row.status, row.suppressed_kind, row.suppressed_at = "suppressed", kind, utcnow()
        subscriber_id = row.id
    lifted = client.post(f"/api/subscribers/{subscriber_id}/unsuppress", headers=ADMIN)
    assert lifted.status_code == 204, lifted.text
    again = client.post(f"/api/subscribers/{subscriber_id}/unsuppress", headers=ADMIN)
    assert again.status_code == 409
    with store.session() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        assert (row.status, row.suppressed_kind, row.suppressed_at) == ("unsubscribed", None, None)
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "unsuppress"))
        assert (entry.target, entry.detail) == (f"subscriber:{subscriber_id}", f"was {kind}")
        assert entry.who.startswith("api:")

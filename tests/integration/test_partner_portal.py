"""The partners' portal over real HTTP: a link opens one partner's portal and nothing of
any other partner's, every action is that partner's own, CSRF-checked and audited as
``partner:<id>``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from syndicator.config import Settings
from syndicator.store.db import Database
from syndicator.store.models import AuditEntry, Delivery, Partner
from syndicator.web.app import create_app
from tests.integration.console_support import deliver_webhooks, release
from tests.integration.test_ops_console import form_fields
from tests.live_server import serve
from tests.services import free_port

ADMIN = {"Authorization": "Bearer test-admin-token"}
PUBLIC = "https://93.184.215.14/hooks"  # a public address literal: no DNS in tests


@dataclass
class Site:
    url: str
    db: Database

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


@pytest.fixture
def site(app_settings: Settings) -> Iterator[Site]:
    port = free_port()
    settings = app_settings.with_(base_url=f"http://127.0.0.1:{port}")
    with serve(create_app(settings), port) as url, Database(settings.database_url) as db:
        yield Site(url, db)


def _partner(http: httpx.Client, name: str, url: str) -> int:
    answer = http.post("/api/partners", json={"name": name, "url": url}, headers=ADMIN)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def _link(http: httpx.Client, partner_id: int) -> str:
    answer = http.post(f"/api/partners/{partner_id}/portal-link", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["url"]
    return url


@contextmanager
def _enter(site: Site, partner_id: int) -> Iterator[httpx.Client]:
    """A browser that opened the partner's link: its session cookie, the token gone."""
    with site.client() as admin:
        link = _link(admin, partner_id)
    with site.client() as http:
        answer = http.get(link, follow_redirects=False)
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/portal"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "syndicator_portal" in http.cookies
        yield http


def _csrf(http: httpx.Client, path: str = "/portal") -> dict[str, str]:
    page = http.get(path)
    assert page.status_code == 200, page.text
    return {"csrf_token": form_fields(page.text)["csrf_token"]}


def _audit(db: Database) -> list[tuple[str, str, str]]:
    with db.session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.who, r.action, r.target) for r in rows]


@pytest.fixture
def two(site: Site) -> tuple[int, int]:
    with site.client() as http:
        a = _partner(http, "파트너 가", PUBLIC)
        b = _partner(http, "파트너 나", "https://93.184.215.15/other")
    assert (a, b) == (1, 2)  # ScriptedWebhooks scripts partner:1 and partner:2
    deliver_webhooks(site.db, release(site.db))
    return a, b


def _deliveries(db: Database, partner_id: int) -> list[int]:
    with db.session() as session:
        return list(
            session.scalars(select(Delivery.id).where(Delivery.target == f"partner:{partner_id}"))
        )


def test_the_link_needs_the_admin_token(site: Site):
    with site.client() as http:
        partner_id = _partner(http, "파트너", PUBLIC)
        assert http.post(f"/api/partners/{partner_id}/portal-link").status_code == 401
        assert http.post("/api/partners/99/portal-link", headers=ADMIN).status_code == 404


def test_a_link_opens_its_partner_and_drops_the_token(site: Site, two: tuple[int, int]):
    a, _ = two
    with _enter(site, a) as http:
        page = http.get("/portal", headers={"Accept-Language": "ko"})
        assert page.status_code == 200
        assert "파트너 가" in page.text and PUBLIC in page.text
        assert "파트너 나" not in page.text and "93.184.215.15" not in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        english = http.get("/portal?lang=en")
        assert "Partner portal" in english.text and english.headers["content-language"] == "en"


def test_without_a_session_nothing_is_shown(site: Site, two: tuple[int, int]):
    with site.client() as http:
        for path in ("/portal", "/portal/deliveries"):
            assert http.get(path).status_code == 401
        assert http.post("/portal/disable", data={"csrf_token": "x"}).status_code == 401
        for token in ("", "garbage", "a.b.c"):
            answer = http.get(f"/portal/enter/{token}x", follow_redirects=False)
            assert answer.status_code == 404 and "syndicator_portal" not in http.cookies


def test_another_partners_deliveries_answer_404(site: Site, two: tuple[int, int]):
    a, b = two
    mine, theirs = _deliveries(site.db, a), _deliveries(site.db, b)
    assert mine and theirs
    with _enter(site, a) as http:
        log = http.get("/portal/deliveries")
        assert log.status_code == 200
        assert f"#{mine[0]} " in log.text and f"#{theirs[0]} " not in log.text
        form = _csrf(http)
        for ref in (str(theirs[0]), "999999", "0", "-1", "abc"):
            answer = http.post(f"/portal/deliveries/{ref}/replay", data=form)
            assert answer.status_code == 404, (ref, answer.text)
        answer = http.post(f"/portal/deliveries/{mine[0]}/replay", data=form)
        assert answer.status_code == 200, answer.text
    with site.db.session() as session:
        mine_row = session.get(Delivery, mine[0])
        theirs_row = session.get(Delivery, theirs[0])
        assert mine_row is not None and mine_row.trigger == "manual"
        assert theirs_row is not None and theirs_row.trigger != "manual"
    assert ("partner:1", "replay", f"delivery:{mine[0]}") in _audit(site.db)


def test_forms_need_the_sessions_csrf_token(site: Site, two: tuple[int, int]):
    a, _ = two
    with _enter(site, a) as http, _enter(site, a) as other:
        stale = _csrf(other)
        form = _csrf(http)
        assert form != stale
        for data, headers in (
            ({}, {}),
            (stale, {}),
            (form, {"Origin": "https://evil.example"}),
            (form, {"Sec-Fetch-Site": "cross-site"}),
        ):
            answer = http.post("/portal/disable", data=data, headers=headers)
            assert answer.status_code == 403, (data, headers)
    with site.db.session() as session:
        partner = session.get(Partner, a)
        assert partner is not None and partner.state == "active"


def test_the_url_is_checked_by_the_ssrf_guard(site: Site, two: tuple[int, int]):
    a, _ = two
    with _enter(site, a) as http:
        form = _csrf(http)
        refused = http.post("/portal/url", data={**form, "url": "http://127.0.0.1:8080/x"})
        assert refused.status_code == 422
        assert 'aria-invalid="true"' in refused.text and "url-error" in refused.text
        changed = http.post("/portal/url", data={**form, "url": "https://93.184.215.16/new"})
        assert changed.status_code == 200, changed.text
        assert "https://93.184.215.16/new" in changed.text
    assert ("partner:1", "partner-update", "partner:1") in _audit(site.db)


def test_secret_disable_enable_and_recover_are_the_partners_own(site: Site, two: tuple[int, int]):
    a, b = two
    with _enter(site, a) as http:
        form = _csrf(http)
        shown = http.post("/portal/secret", data=form)
        assert shown.status_code == 200
        assert shown.headers["cache-control"] == "no-store"
        assert "whsec_" in shown.text
        assert http.post("/portal/disable", data=form).status_code == 200
        assert http.post("/portal/enable", data=form).status_code == 200
        answer = http.post("/portal/recover", data={**form, "since": "2020-01-01T00:00"})
        assert answer.status_code == 200, answer.text
        bad = http.post("/portal/recover", data={**form, "since": "yesterday"})
        assert bad.status_code == 422
        assert http.post("/portal/logout", data=form).status_code == 200
        assert http.get("/portal").status_code == 401
    actions: list[Any] = [row for row in _audit(site.db) if row[0] == "partner:1"]
    assert [action for _, action, _ in actions] == [
        "partner-rotate-secret",
        "partner-disable",
        "partner-enable",
        "recover",
    ]
    assert all(target == "partner:1" for _, _, target in actions)
    with site.db.session() as session:
        other = session.get(Partner, b)
        assert other is not None and other.state == "active"


def test_an_ed25519_partner_rotating_sees_its_new_public_key_and_no_private_one(site: Site):
    with site.client() as admin:
        body = {"name": "파트너 다", "url": PUBLIC, "signature_scheme": "ed25519"}
        created = admin.post("/api/partners", json=body, headers=ADMIN)
        assert created.status_code == 201, created.text
    with _enter(site, created.json()["id"]) as http:
        shown = http.post("/portal/secret", data=_csrf(http))
        assert shown.status_code == 200, shown.text
        assert "whsk_" not in shown.text and "None" not in shown.text
        public = re.search(r'<code id="public-key">(whpk_[A-Za-z0-9+/=]+)</code>', shown.text)
        assert public is not None and public.group(1) != created.json()["public_key"]


def test_the_contact_address_is_set_checked_and_removed_by_the_admin_api(site: Site):
    with site.client() as http:
        created = http.post(
            "/api/partners",
            json={"name": "파트너", "url": PUBLIC, "contact_email": " Ops@Partner.Example "},
            headers=ADMIN,
        )
        assert created.status_code == 201, created.text
        partner_id = created.json()["id"]
        assert created.json()["contact_email"] == "Ops@partner.example"
        refused = http.patch(
            f"/api/partners/{partner_id}", json={"contact_email": "not an address"}, headers=ADMIN
        )
        assert refused.status_code == 422
        assert [e["field"] for e in refused.json()["errors"]] == ["contact_email"]
        cleared = http.patch(
            f"/api/partners/{partner_id}", json={"contact_email": None}, headers=ADMIN
        )
        assert cleared.status_code == 200 and cleared.json()["contact_email"] is None


def _ask(http: httpx.Client, address: str) -> httpx.Response:
    form = form_fields(http.get("/portal/request").text)
    return http.post("/portal/request", data={**form, "email": address})


def _link_mails(db: Database) -> list[str]:
    with db.session() as session:
        rows = session.scalars(
            select(Delivery.target).where(Delivery.channel == "notices").order_by(Delivery.id)
        )
        return list(rows)


def test_a_fresh_link_is_mailed_only_to_a_registered_contact_and_says_nothing(site: Site):
    with site.client() as http:
        created = http.post(
            "/api/partners",
            json={"name": "파트너", "url": PUBLIC, "contact_email": "ops@partner.example"},
            headers=ADMIN,
        )
        partner_id = created.json()["id"]
        unknown = _ask(http, "nobody@partner.example")
        known = _ask(http, "OPS@partner.example")
        assert unknown.status_code == known.status_code == 200
        assert unknown.text == known.text  # nothing tells the addresses apart
        assert _link_mails(site.db) == [f"partner:{partner_id}"]
        # Asking again in the same window sends nothing more.
        assert _ask(http, "ops@partner.example").text == known.text
        assert _link_mails(site.db) == [f"partner:{partner_id}"]
        # Without the form's token, or from another site: refused.
        assert (
            http.post("/portal/request", data={"email": "ops@partner.example"}).status_code == 403
        )

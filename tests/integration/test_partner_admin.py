"""The partner admin API over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook

from syndicator.config import Settings
from syndicator.partners import registry
from syndicator.partners.registry import InvalidPartner, PartnerSpec, load_spec
from syndicator.partners.ssrf import StaticResolve
from syndicator.store.db import Database
from syndicator.store.models import Delivery, Event, Partner, PartnerSecret, utcnow
from syndicator.web.app import create_app
from tests.live_server import serve
from tests.sealing import ring

ADMIN = {"Authorization": "Bearer test-admin-token"}
PUBLIC_URL = "https://93.184.215.14/hooks"  # a public address literal: no DNS in tests
EXAMPLE = {
    "name": "연합뉴스",
    "url": PUBLIC_URL,
    "event_types": ["release.published"],
    "headers": {"X-Env": "prod"},
    "rate_limit_per_s": 10,
    "max_in_flight": 4,
    "departments": [],
    "categories": [],
}
ROUTES = [
    ("POST", "/api/partners"),
    ("GET", "/api/partners"),
    ("GET", "/api/partners/1"),
    ("PATCH", "/api/partners/1"),
    ("DELETE", "/api/partners/1"),
    ("POST", "/api/partners/1/secret/rotate"),
    ("POST", "/api/partners/1/enable"),
    ("POST", "/api/partners/1/disable"),
    ("POST", "/api/partners/1/recover?since=2026-01-01T00:00:00Z"),
    ("GET", "/api/deliveries"),
    ("GET", "/api/deliveries/1"),
    ("POST", "/api/deliveries/1/replay"),
]


def create(client: httpx.Client, **changes: Any) -> dict[str, Any]:
    answer = client.post("/api/partners", json={**EXAMPLE, **changes}, headers=ADMIN)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def problem_fields(answer: httpx.Response, status: int = 422) -> dict[str, str]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    return {e["field"]: e["reason"] for e in answer.json()["errors"]}


def test_every_route_needs_the_admin_token(client: httpx.Client):
    for method, path in ROUTES:
        for auth in (None, "Bearer wrong-token", "Basic test-admin-token", "Bearer"):
            headers = {"Authorization": auth} if auth else {}
            answer = client.request(method, path, headers=headers, json=EXAMPLE)
            assert answer.status_code == 401, (method, path, auth)
            assert answer.headers["www-authenticate"] == "Bearer"


def test_create_shows_the_secret_once(client: httpx.Client, store: Database):
    created = create(client)
    assert created["id"] >= 1 and created["state"] == "active"
    shown_headers = {"X-Env": {"value": "prod", "secret": False}}
    expected = {**EXAMPLE, "rate_limit_per_s": 10.0, "headers": shown_headers}
    assert {k: created[k] for k in EXAMPLE} == expected
    secret = created["secret"]
    assert secret.startswith("whsec_")
    # The independent library takes it as a key, and signs what it verifies.
    hook = Webhook(secret)
    now = utcnow()
    signature = hook.sign("msg_1", now, "{}")
    hook.verify(
        "{}",
        {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        },
    )
    shown = client.get(f"/api/partners/{created['id']}", headers=ADMIN).json()
    assert "secret" not in shown and secret not in str(shown)
    assert len(shown["signing_keys"]) == 1 and shown["signing_keys"][0]["expires_at"] is None
    listed = client.get("/api/partners", headers=ADMIN).json()
    assert [p["id"] for p in listed] == [created["id"]] and secret not in str(listed)
    with store.session() as session:
        (stored,) = session.scalars(select(PartnerSecret.secret)).all()
    assert ring().open(stored) == secret  # sealed: the column itself never holds it


def test_only_name_and_url_are_required(client: httpx.Client):
    created = create(client, **{k: v for k, v in EXAMPLE.items() if k not in ("name", "url")})
    minimal = client.post(
        "/api/partners", json={"name": "B", "url": PUBLIC_URL}, headers=ADMIN
    ).json()
    assert minimal["event_types"] is None and minimal["headers"] == {}
    assert minimal["rate_limit_per_s"] is None and minimal["departments"] == []
    assert created["id"] != minimal["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://partner.example/"}, "url"),
        ({"event_types": ["release.deleted"]}, "event_types.0"),
        ({"headers": {"Transfer-Encoding": "chunked"}}, "headers"),
        ({"headers": {"webhook-signature": "v1,x"}}, "headers"),
        ({"rate_limit_per_s": 0}, "rate_limit_per_s"),
        ({"max_in_flight": 10_000}, "max_in_flight"),
        ({"name": ""}, "name"),
        ({"departments": "교통"}, "departments"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_bad_input_names_the_field(client: httpx.Client, body: dict[str, Any], field: str):
    answer = client.post("/api/partners", json={**EXAMPLE, **body}, headers=ADMIN)
    assert field in problem_fields(answer)


def test_a_body_that_is_not_json_is_a_problem(client: httpx.Client):
    answer = client.post(
        "/api/partners",
        content=b"{not json",
        headers={**ADMIN, "content-type": "application/json"},
    )
    assert problem_fields(answer) == {"(body)": "not valid JSON (at character 1)"}


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://10.1.2.3/hook", "private"),
        ("http://[::1]/hook", "loopback"),
        ("http://[fd00::1]/hook", "unique local"),
        ("http://localhost/hook", "loopback"),
    ],
)
def test_ssrf_refused_registration_says_why(client: httpx.Client, url: str, why: str):
    answer = client.post("/api/partners", json={**EXAMPLE, "url": url}, headers=ADMIN)
    fields = problem_fields(answer)
    assert list(fields) == ["url"] and why in fields["url"].lower(), fields
    assert "SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS" in fields["url"]  # the way around it
    assert client.get("/api/partners", headers=ADMIN).json() == []


@pytest.fixture
def loopback_client(app_settings: Settings) -> Iterator[httpx.Client]:
    """The allow-list is the only way around the SSRF guard."""
    allowed = app_settings.with_(webhook_allowed_networks=("127.0.0.0/8",))
    with serve(create_app(allowed)) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


def test_the_allow_list_lets_loopback_through(loopback_client: httpx.Client):
    created = create(loopback_client, url="http://127.0.0.1:8080/hook")
    assert created["url"] == "http://127.0.0.1:8080/hook"
    # ... and only the networks listed.
    answer = loopback_client.post(
        "/api/partners", json={**EXAMPLE, "url": "http://10.0.0.1/"}, headers=ADMIN
    )
    assert "url" in problem_fields(answer)


def test_patch_changes_only_what_it_names(client: httpx.Client):
    created = create(client)
    path = f"/api/partners/{created['id']}"
    patched = client.patch(
        path, json={"name": "뉴시스", "event_types": None, "rate_limit_per_s": None}, headers=ADMIN
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["name"] == "뉴시스" and body["event_types"] is None
    assert body["rate_limit_per_s"] is None
    assert body["headers"] == {"X-Env": {"value": "prod", "secret": False}}
    assert body["max_in_flight"] == 4 and body["updated_at"] > created["updated_at"]
    assert "url" in problem_fields(
        client.patch(path, json={"url": "http://192.168.0.1/"}, headers=ADMIN)
    )
    assert "name" in problem_fields(client.patch(path, json={"name": None}, headers=ADMIN))
    assert client.get(path, headers=ADMIN).json()["url"] == PUBLIC_URL


def test_unknown_partners_are_404(client: httpx.Client):
    for method, path in ROUTES[2:8]:
        answer = client.request(method, path.replace("/1", "/999"), headers=ADMIN, json={})
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["title"] == "Not found"
    assert "partner_id" in problem_fields(client.get("/api/partners/0", headers=ADMIN))
    assert "partner_id" in problem_fields(client.get("/api/partners/x", headers=ADMIN))


def test_rotation_keeps_the_old_key_for_the_grace_period(
    client: httpx.Client, store: Database, app_settings: Settings
):
    created = create(client)
    path = f"/api/partners/{created['id']}/secret/rotate"
    before = utcnow()
    rotated = client.post(path, headers=ADMIN)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != created["secret"]
    with store.session() as session:
        keys = {ring().open(k.secret): k.expires_at for k in session.scalars(select(PartnerSecret))}
    grace = timedelta(hours=app_settings.webhook_secret_grace_hours)
    assert keys[new_secret] is None
    old_expiry = keys[created["secret"]]
    assert old_expiry is not None and before + grace <= old_expiry <= utcnow() + grace
    assert len(rotated.json()["signing_keys"]) == 2
    # A second rotation never extends the first key's grace, and drops nothing in use.
    again = client.post(path, headers=ADMIN).json()
    with store.session() as session:
        keys = {ring().open(k.secret): k.expires_at for k in session.scalars(select(PartnerSecret))}
    assert keys[created["secret"]] == old_expiry
    assert keys[new_secret] is not None and keys[again["secret"]] is None


def test_a_rotation_drops_keys_long_out_of_use(client: httpx.Client, store: Database):
    created = create(client)
    client.post(f"/api/partners/{created['id']}/secret/rotate", headers=ADMIN)
    with store.session() as session:
        first = session.scalars(select(PartnerSecret.id).order_by(PartnerSecret.id)).first()
        session.execute(
            update(PartnerSecret)
            .where(PartnerSecret.id == first)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    listed = client.get(f"/api/partners/{created['id']}", headers=ADMIN).json()
    assert len(listed["signing_keys"]) == 1  # the expired key is no longer shown
    client.post(f"/api/partners/{created['id']}/secret/rotate", headers=ADMIN)
    with store.session() as session:
        secrets = [ring().open(s) for s in session.scalars(select(PartnerSecret.secret))]
    assert created["secret"] not in secrets and len(secrets) == 2


def test_disable_and_enable(client: httpx.Client, store: Database):
    created = create(client)
    path = f"/api/partners/{created['id']}"
    disabled = client.post(f"{path}/disable", json={"reason": "점검 중"}, headers=ADMIN).json()
    assert disabled["state"] == "disabled" and disabled["disabled_reason"] == "점검 중"
    assert disabled["disabled_at"] is not None
    for reason in ("\x00", "줄\n바꿈", "x" * 501):  # text, one line: PostgreSQL refuses NUL
        refused = client.post(f"{path}/disable", json={"reason": reason}, headers=ADMIN)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "reason"
    plain = client.post(f"{path}/disable", headers=ADMIN).json()
    assert plain["disabled_reason"] == "disabled by an operator"
    assert plain["disabled_at"] == disabled["disabled_at"]  # disabled since then
    with store.session() as session:
        session.execute(update(Partner).values(failing_since=utcnow() - timedelta(days=5)))
    enabled = client.post(f"{path}/enable", headers=ADMIN).json()
    assert enabled["state"] == "active"
    assert enabled["disabled_reason"] is None and enabled["disabled_at"] is None
    assert enabled["failing_since"] is None


def add_event(store: Database, n: int) -> str:
    event_id = f"evt_{n}"
    with store.session() as session:
        session.add(
            Event(
                id=event_id,
                webhook_id=f"msg_{n}",
                type="release.published",
                release_id=n,
                source="hook",
                outcome="applied",
                payload={},
            )
        )
    return event_id


def add_delivery(store: Database, event_id: str, target: str, status: str = "pending") -> int:
    with store.session() as session:
        row = Delivery(
            key=f"{event_id}:webhooks:{target}",
            event_id=event_id,
            channel="webhooks",
            target=target,
            status=status,
            attempts=1 if status != "pending" else 0,
        )
        session.add(row)
        session.flush()
        return row.id


def test_delete_tombstones_erases_credentials_and_suppresses_pending(
    client: httpx.Client, store: Database
):
    created = create(client)
    other = create(client, name="other")
    target = f"partner:{created['id']}"
    event_id = add_event(store, 1)
    pending = add_delivery(store, event_id, target)
    done = add_delivery(store, add_event(store, 2), target, "succeeded")
    elsewhere = add_delivery(store, event_id, f"partner:{other['id']}")
    answer = client.delete(f"/api/partners/{created['id']}", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": created["id"], "deleted": True, "suppressed_deliveries": 1}
    assert client.get(f"/api/partners/{created['id']}", headers=ADMIN).status_code == 404
    assert client.delete(f"/api/partners/{created['id']}", headers=ADMIN).status_code == 404
    assert [p["id"] for p in client.get("/api/partners", headers=ADMIN).json()] == [other["id"]]
    with store.session() as session:
        status = {i: s for i, s in session.execute(select(Delivery.id, Delivery.status))}
        tomb = session.get(Partner, created["id"])
        keys = session.scalars(
            select(PartnerSecret).where(PartnerSecret.partner_id == created["id"])
        ).all()
    assert status == {pending: "suppressed", done: "succeeded", elsewhere: "pending"}
    assert tomb is not None and tomb.state == "deleted" and tomb.headers == {} and keys == []
    # The id is never handed out again, so partner:<id> in the log keeps its meaning.
    assert create(client, name="new")["id"] > other["id"]
    # The past stays readable.
    listed = client.get(f"/api/deliveries?partner={created['id']}", headers=ADMIN).json()
    assert {d["id"] for d in listed["items"]} == {pending, done}


def test_openapi_documents_the_partner_api(client: httpx.Client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/partners",
        "/api/partners/{partner_id}",
        "/api/partners/{partner_id}/secret/rotate",
        "/api/partners/{partner_id}/enable",
        "/api/partners/{partner_id}/disable",
        "/api/partners/{partner_id}/recover",
        "/api/deliveries",
        "/api/deliveries/{delivery_id}",
        "/api/deliveries/{delivery_id}/replay",
    ):
        assert path in paths, path
    spec = schema["components"]["schemas"]["PartnerSpec"]
    assert spec["required"] == ["name", "url"]
    assert "401" in paths["/api/partners"]["post"]["responses"]
    assert "422" in paths["/api/partners"]["post"]["responses"]


@pytest.mark.parametrize(
    ("addresses", "refused"),
    [
        (["93.184.215.14"], None),
        (["127.0.0.1"], "loopback"),
        (["93.184.215.14", "10.0.0.7"], "private"),  # one bad address refuses the name
        ([], "no address"),
    ],
)
def test_registration_checks_every_address_a_name_resolves_to(
    store: Database, addresses: list[str], refused: str | None
):
    resolve = StaticResolve({"partner.example": addresses})
    spec = load_spec(PartnerSpec, {"name": "A", "url": "https://partner.example/hooks"})
    if refused is None:
        assert (
            registry.create(store, spec, "test", (), resolve, ring=ring()).partner.url == spec.url
        )
        return
    with pytest.raises(InvalidPartner) as error:
        registry.create(store, spec, "test", (), resolve, ring=ring())
    assert error.value.errors[0]["field"] == "url" and refused in error.value.errors[0]["reason"]
    # A name that does not resolve is refused too, and nothing is stored.
    with pytest.raises(InvalidPartner):
        registry.create(store, spec, "test", (), StaticResolve({}), ring=ring())
    assert registry.list_partners(store) == []


def test_an_ed25519_partner_gets_a_public_key_and_its_private_key_stays_sealed(
    client: httpx.Client, store: Database
):
    created = create(client, signature_scheme="ed25519")
    assert created["signature_scheme"] == "ed25519" and created["secret"] is None
    public = created["public_key"]
    assert public.startswith("whpk_") and len(base64.b64decode(public[5:])) == 32
    (key,) = created["signing_keys"]
    assert key == {**key, "scheme": "ed25519", "public_key": public, "expires_at": None}
    with store.session() as session:
        (stored,) = session.scalars(select(PartnerSecret)).all()
    private = ring().open(stored.secret)  # sealed at rest, like a v1 secret
    assert private.startswith("whsk_") and stored.public_key == public
    # The pair is a real one: what the private key signs, the public key verifies.
    seed = base64.b64decode(private[5:])
    signature = Ed25519PrivateKey.from_private_bytes(seed).sign(b"m.1.{}")
    Ed25519PublicKey.from_public_bytes(base64.b64decode(public[5:])).verify(signature, b"m.1.{}")
    shown = client.get(f"/api/partners/{created['id']}", headers=ADMIN).json()
    assert shown["public_key"] == public and private not in str(shown)
    assert private[5:] not in client.get("/api/partners", headers=ADMIN).text


def test_an_ed25519_rotation_keeps_the_old_key_signing_for_the_grace_period(
    client: httpx.Client, store: Database
):
    created = create(client, signature_scheme="ed25519")
    rotated = client.post(f"/api/partners/{created['id']}/secret/rotate", headers=ADMIN).json()
    assert rotated["secret"] is None and rotated["public_key"] != created["public_key"]
    keys = rotated["signing_keys"]
    assert [k["public_key"] for k in keys] == [rotated["public_key"], created["public_key"]]
    assert keys[0]["expires_at"] is None and keys[1]["expires_at"] is not None


def test_a_partner_moves_to_ed25519_by_patch_and_back_by_rotation(client: httpx.Client):
    created = create(client)
    path = f"/api/partners/{created['id']}"
    moved = client.patch(path, json={"signature_scheme": "ed25519"}, headers=ADMIN)
    assert moved.status_code == 200, moved.text
    assert moved.json()["signature_scheme"] == "ed25519" and moved.json()["public_key"]
    assert [k["scheme"] for k in moved.json()["signing_keys"]] == ["ed25519", "v1"]
    # The same scheme again changes no key.
    again = client.patch(path, json={"signature_scheme": "ed25519"}, headers=ADMIN).json()
    assert len(again["signing_keys"]) == 2
    # Back to v1 only where the new secret can be shown: a rotation.
    assert "signature_scheme" in problem_fields(
        client.patch(path, json={"signature_scheme": "v1"}, headers=ADMIN)
    )
    back = client.post(
        f"{path}/secret/rotate", json={"signature_scheme": "v1"}, headers=ADMIN
    ).json()
    assert back["signature_scheme"] == "v1" and back["secret"].startswith("whsec_")
    assert "signature_scheme" in problem_fields(
        client.post("/api/partners", json={**EXAMPLE, "signature_scheme": "rsa"}, headers=ADMIN)
    )

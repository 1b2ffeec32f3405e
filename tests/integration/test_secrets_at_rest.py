"""Partner secrets at rest: sealed in the database, never shown by the API, rotatable.

The raw columns are read with plain SQL, so what a database dump or a backup holds is
what is checked; deliveries are verified at a real receiver with the independent
``standardwebhooks`` library. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from syndicator.channels.base import ChannelContext
from syndicator.channels.webhooks import WebhooksChannel
from syndicator.config import Settings
from syndicator.delivery import aio
from syndicator.delivery.runner import run_due
from syndicator.events.signing import generate_secret
from syndicator.partners import registry
from syndicator.partners.directory import load_snapshots
from syndicator.partners.registry import PartnerSpec, load_spec
from syndicator.store.db import Database
from syndicator.store.migrate import schema_state, upgrade
from syndicator.store.models import PartnerSecret, UTCDateTime, utcnow
from syndicator.store.sealed import InvalidEncryptionKey, Sealed, generate_key, keyring
from tests.integration.webhook_receiver import Receiver, receiver
from tests.integration.webhook_support import attempts, publish
from tests.sealing import ring
from tests.system import run_cli

ADMIN = {"Authorization": "Bearer test-admin-token"}
LOCAL = ("127.0.0.0/8",)
PUBLIC_URL = "https://93.184.215.14/hooks"


def raw_columns(db: Database) -> str:
    """Every stored partner secret and header, as plain SQL reads them (a dump would)."""
    with db.engine.connect() as conn:
        keys = conn.exec_driver_sql("SELECT secret FROM partner_secrets").scalars().all()
        partners = conn.exec_driver_sql(
            "SELECT CAST(headers AS TEXT), secret_headers FROM partners"
        ).all()
    return "\n".join([*map(str, keys), *(f"{h}\t{s}" for h, s in partners)])


def strings(document: Any) -> Iterator[str]:
    """Every string in a parsed JSON document, keys included."""
    if isinstance(document, str):
        yield document
    elif isinstance(document, dict):
        for key, value in document.items():
            yield key
            yield from strings(value)
    elif isinstance(document, list):
        for item in document:
            yield from strings(item)


def shows(answer: httpx.Response, secret: str) -> bool:
    return secret in answer.text or any(secret in s for s in strings(answer.json()))


# --- Hypothesis: the API never shows a stored credential; the columns never hold one ---

_VALUE = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\x7f"),
    min_size=1,
    max_size=60,
)
_NAME = st.from_regex(r"X-[A-Za-z0-9]{1,16}", fullmatch=True)


@st.composite
def partner_headers(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, str]]:
    """(headers as the API takes them, the secret values by name). Each secret value is
    marked so that it cannot occur anywhere by chance (a date, a name)."""
    names = draw(st.lists(_NAME, max_size=5, unique_by=str.lower))
    headers: dict[str, Any] = {"Authorization": f"Bearer ✶secret-auth✶{draw(_VALUE)}"}
    for n, name in enumerate(names):
        value, marked = draw(_VALUE), draw(st.booleans())
        if marked or registry.is_credential_name(name):
            headers[name] = {"value": f"✶secret-{n}✶{value}", "secret": True}
        else:
            headers[name] = value
    if draw(st.booleans()):
        headers["Cookie"] = f"sid=✶secret-cookie✶{draw(_VALUE)}"
    hidden = {
        name: (spec["value"] if isinstance(spec, dict) else spec)
        for name, spec in headers.items()
        if isinstance(spec, dict) or name in ("Authorization", "Cookie")
    }
    return headers, hidden


@hypothesis_settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(generated=partner_headers())
def test_no_answer_shows_a_stored_credential_and_no_column_holds_one(
    client: httpx.Client, store: Database, generated: tuple[dict[str, Any], dict[str, str]]
):
    headers, hidden = generated
    body = {"name": "연합뉴스", "url": PUBLIC_URL, "headers": headers}
    created = client.post("/api/partners", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    partner_id, signing = created.json()["id"], created.json()["secret"]
    path = f"/api/partners/{partner_id}"
    shown = created.json()["headers"]
    assert {n for n, h in shown.items() if h["secret"]} == set(hidden)
    assert all(shown[n]["value"] is None for n in hidden)
    rotated = client.post(f"{path}/secret/rotate", headers=ADMIN)
    new_signing = rotated.json()["secret"]
    # A read's headers sent back as they are keep every stored value.
    patched = client.patch(path, json={"headers": shown, "name": "뉴시스"}, headers=ADMIN)
    assert patched.status_code == 200, patched.text
    answers = [
        created,
        rotated,
        patched,
        client.get(path, headers=ADMIN),
        client.get("/api/partners", headers=ADMIN),
    ]
    for answer in answers:
        for value in hidden.values():
            assert not shows(answer, value), answer.text
    for answer in answers[2:]:  # the signing secrets only in the answers that made them
        assert not shows(answer, signing) and not shows(answer, new_signing)
    stored = raw_columns(store)
    for value in [*hidden.values(), signing, new_signing]:
        assert value not in stored and json.dumps(value)[1:-1] not in stored
    with store.read_session() as session:
        snapshot = load_snapshots(session, utcnow(), ring())[partner_id]
    plain = {n: v for n, v in headers.items() if isinstance(v, str) and n not in hidden}
    assert dict(snapshot.headers) == {**plain, **hidden}
    assert set(snapshot.secrets) == {signing, new_signing}


def test_a_secret_header_cannot_be_kept_as_a_plain_one(client: httpx.Client):
    body = {"name": "A", "url": PUBLIC_URL, "headers": {"X-Key": "Bearer k-1"}}
    created = client.post("/api/partners", json=body, headers=ADMIN).json()
    path = f"/api/partners/{created['id']}"
    unsecret = {"headers": {"X-Key": {"value": None, "secret": False}}}
    refused = client.patch(path, json=unsecret, headers=ADMIN)
    assert refused.status_code == 422 and "secret" in refused.text
    unknown = client.patch(path, json={"headers": {"X-New": {"value": None}}}, headers=ADMIN)
    assert unknown.status_code == 422 and "X-New" in unknown.text


# --- Key rotation: rows under A, keys "B A", rotate-encryption, then B alone ---------


@pytest.fixture
def partner_site() -> Iterator[Receiver]:
    with receiver() as site:
        yield site


def _channel(db: Database, settings: Settings, redis_url: str, *keys: str) -> WebhooksChannel:
    configured = settings.with_(
        redis_url=redis_url, webhook_allowed_networks=LOCAL, encryption_keys=keys
    )
    return WebhooksChannel(ChannelContext(configured, db))


def _add(db: Database, url: str, key: str, **headers: str) -> registry.NewSecret:
    spec = load_spec(PartnerSpec, {"name": "연합뉴스", "url": url, "headers": headers})
    return registry.create(db, spec, "test", LOCAL, ring=keyring((key,)))


def test_after_rotate_encryption_the_old_key_can_go(
    db: Database,
    database_url: str,
    settings: Settings,
    redis_url: str,
    partner_site: Receiver,
    tmp_path: Path,
):
    a, b = generate_key(), generate_key()
    created = _add(db, partner_site.url("a"), a, Authorization="Bearer tok-a", **{"X-Env": "p"})
    grace = timedelta(hours=1)
    rotated = registry.rotate_secret(db, created.partner.id, grace, "test", ring=keyring((a,)))
    env = {"SYNDICATOR_DATABASE_URL": database_url, "SYNDICATOR_DATA_DIR": str(tmp_path / "v")}

    result = run_cli("secret", "rotate-encryption", SYNDICATOR_ENCRYPTION_KEYS=f"{b} {a}", **env)
    assert result.returncode == 0, result.stderr
    assert "re-encrypting" in result.stdout and "3/3" in result.stdout  # the progress bar
    assert "3 re-encrypted" in result.stdout
    again = run_cli("secret", "rotate-encryption", SYNDICATOR_ENCRYPTION_KEYS=f"{b} {a}", **env)
    assert "0 re-encrypted under the newest key, 3 already were" in again.stdout

    with db.read_session() as session:  # B alone opens every row now
        snapshot = load_snapshots(session, utcnow(), keyring((b,)))[created.partner.id]
    assert snapshot.unreadable is None and snapshot.headers["Authorization"] == "Bearer tok-a"
    channel = _channel(db, settings, redis_url, b)
    try:
        run_due(db, channel, publish(db, channel))
    finally:
        aio.close_channels([channel])
    (got,) = partner_site.to("a")
    for secret in (created.secret, rotated.secret):
        Webhook(secret).verify(got.body, got.headers)  # raises if it does not verify
    assert got.headers["authorization"] == "Bearer tok-a" and got.headers["x-env"] == "p"


def test_a_row_no_key_opens_fails_alone_naming_its_partner(
    db: Database,
    database_url: str,
    settings: Settings,
    redis_url: str,
    partner_site: Receiver,
    tmp_path: Path,
):
    lost, kept = generate_key(), generate_key()
    orphan = _add(db, partner_site.url("orphan"), lost, Authorization="Bearer o")
    fine = _add(db, partner_site.url("fine"), kept)
    channel = _channel(db, settings, redis_url, kept)
    try:
        run_due(db, channel, publish(db, channel))
    finally:
        aio.close_channels([channel])
    (got,) = partner_site.to("fine")
    Webhook(fine.secret).verify(got.body, got.headers)
    assert partner_site.to("orphan") == []
    (failed,) = [a for a in attempts(db) if a.outcome != "succeeded"]
    assert failed.error_class == "secret-unreadable"
    assert f"partner {orphan.partner.id} (연합뉴스)" in (failed.detail or "")
    assert "SYNDICATOR_ENCRYPTION_KEYS" in (failed.detail or "")

    env = {"SYNDICATOR_DATABASE_URL": database_url, "SYNDICATOR_DATA_DIR": str(tmp_path / "v")}
    result = run_cli("secret", "rotate-encryption", SYNDICATOR_ENCRYPTION_KEYS=kept, **env)
    assert result.returncode == 1
    assert f"partner {orphan.partner.id}: a signing key" in result.stderr
    assert f"partner {orphan.partner.id}: its secret headers" in result.stderr


def test_rotate_encryption_without_a_key_names_the_setting(database_url: str, tmp_path: Path):
    upgrade(database_url)
    env = {"SYNDICATOR_DATABASE_URL": database_url, "SYNDICATOR_DATA_DIR": str(tmp_path / "v")}
    result = run_cli("secret", "rotate-encryption", SYNDICATOR_ENCRYPTION_KEYS="", **env)
    assert result.returncode == 2 and "SYNDICATOR_ENCRYPTION_KEYS" in result.stderr


# --- The migration seals what was stored in plain text -------------------------------

_PARTNERS_BEFORE = sa.table(
    "partners",
    sa.column("name", sa.String),
    sa.column("url", sa.Text),
    sa.column("headers", sa.JSON),
    sa.column("departments", sa.JSON),
    sa.column("categories", sa.JSON),
    sa.column("state", sa.String),
    sa.column("created_at", UTCDateTime),
    sa.column("updated_at", UTCDateTime),
)


def test_the_migration_seals_plain_text_rows_or_refuses_whole(database_url: str):
    upgrade(database_url, "0011")
    legacy_secret = generate_secret()
    headers = {"Authorization": "Bearer legacy-token", "X-Api-Key": "k-legacy", "X-Env": "prod"}
    with Database(database_url) as db:
        with db.engine.begin() as conn:
            now = utcnow()
            conn.execute(
                _PARTNERS_BEFORE.insert().values(
                    name="A", url=PUBLIC_URL, headers=headers, departments=[], categories=[],
                    state="active", created_at=now, updated_at=now,
                )
            )  # fmt: skip
            conn.exec_driver_sql(
                "INSERT INTO partner_secrets (partner_id, secret, created_at) "
                f"VALUES (1, '{legacy_secret}', CURRENT_TIMESTAMP)"
            )
        with pytest.raises(InvalidEncryptionKey, match="SYNDICATOR_ENCRYPTION_KEYS"):
            upgrade(database_url, encryption_keys=())
        assert schema_state(db).current == "0011"  # refused whole: nothing half-done
        assert legacy_secret in raw_columns_before(db)

        upgrade(database_url, encryption_keys=(ring_key := generate_key(),))
        stored = raw_columns(db)
        for plain in (legacy_secret, "legacy-token", "k-legacy"):
            assert plain not in stored
        assert "prod" in stored  # not a credential: stays readable
        view = registry.get(db, 1)
        assert {n: h.secret for n, h in view.headers.items()} == {
            "Authorization": True, "X-Api-Key": True, "X-Env": False
        }  # fmt: skip
        with db.read_session() as session:
            snapshot = load_snapshots(session, utcnow(), keyring((ring_key,)))[1]
        assert snapshot.secrets == (legacy_secret,) and dict(snapshot.headers) == headers


def raw_columns_before(db: Database) -> str:
    with db.engine.connect() as conn:
        return "\n".join(
            map(str, conn.exec_driver_sql("SELECT secret FROM partner_secrets").scalars())
        )


def test_plain_text_never_reaches_a_sealed_column(db: Database):
    spec = load_spec(PartnerSpec, {"name": "A", "url": PUBLIC_URL})
    created = registry.create(db, spec, "test", ring=ring())
    with pytest.raises(sa.exc.StatementError, match="Sealed values"), db.session() as session:
        session.add(PartnerSecret(partner_id=created.partner.id, secret="whsec_plain"))
        session.flush()
    with db.read_session() as session:
        stored = session.scalars(sa.select(PartnerSecret.secret)).all()
    assert len(stored) == 1 and isinstance(stored[0], Sealed)
    assert ring().open(stored[0]) == created.secret


def test_the_web_refuses_to_start_without_an_encryption_key(database_url: str, tmp_path: Path):
    upgrade(database_url)
    result = run_cli(
        "web",
        "--port",
        "1",  # never reached: the check comes first
        SYNDICATOR_DATABASE_URL=database_url,
        SYNDICATOR_DATA_DIR=str(tmp_path / "v"),
        SYNDICATOR_ENCRYPTION_KEYS="",
        SYNDICATOR_REDIS_URL="redis://127.0.0.1:1/0",
    )
    assert result.returncode == 1
    assert "SYNDICATOR_ENCRYPTION_KEYS" in result.stderr, result.stderr

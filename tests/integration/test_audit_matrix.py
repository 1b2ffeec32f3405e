"""Every change and every export of personal data is audited, whichever way it is made.

One matrix of (operation x entry point): the admin API over real HTTP, the ops console
(a logged-in session, through its confirmation pages) and the CLI. For each pair:

- done, it leaves exactly one audit row naming the actor, the action and the target;
- refused (bad input, unknown id), it leaves none;
- when the database refuses the audit row, the change does not happen either, and an
  export hands out no address: the row and the change share one transaction.

A guard lists every state-changing admin route, every console action and every command
of the operators' CLI groups: a new one that is not in the matrix (or knowingly
read-only) fails it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import typer
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from typer.testing import CliRunner

from syndicator.cli import app as cli_app
from syndicator.config import Settings, load_settings
from syndicator.intake.notices import post_notice
from syndicator.ops import actions
from syndicator.ops.audit import api_actor
from syndicator.partners import registry
from syndicator.partners.registry import PartnerPatch, PartnerSpec
from syndicator.store.db import Database
from syndicator.store.models import AuditEntry, Delivery, Subscriber, utcnow
from syndicator.store.sealed import generate_key
from syndicator.subscriptions.importing import ImportRow, import_chunk, parse_rows
from syndicator.web.app import create_app
from syndicator.web.console import ACTIONS
from tests.integration.console_support import add_partners, deliver_webhooks, release
from tests.integration.test_ops_console import TOKEN, confirm_and_act, login
from tests.live_server import serve
from tests.sealing import ENCRYPTION_KEY, ring
from tests.services import free_port
from tests.unit.partners.test_client_certs import _PEM, _issue, _key_pem

PUBLIC_URL = "https://93.184.215.14/hooks"  # an IP literal: the SSRF guard resolves nothing
ADDRESS = "a0@example.org"  # personal data that must never leave without a record
SNAPSHOT_TABLES = (
    "partners",
    "partner_secrets",
    "subscribers",
    "subscriber_topics",
    "deliveries",
    "channel_pauses",
    "audit_log",
)


@dataclass
class World:
    settings: Settings
    db: Database
    api: httpx.Client
    console: httpx.Client
    broker: redis.Redis
    delivery_id: int  # a partner delivery (partner:1)
    notice_id: int  # a failed operator notice
    tmp: Path

    def cli(self, *args: str) -> Any:
        return CliRunner().invoke(cli_app, list(args))


@pytest.fixture
def world(
    app_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    port = free_port()
    settings = app_settings.with_(base_url=f"http://127.0.0.1:{port}")
    for name, value in {
        "SYNDICATOR_DATA_DIR": str(settings.data_dir),
        "SYNDICATOR_DATABASE_URL": settings.database_url,
        "SYNDICATOR_REDIS_URL": settings.redis_url or "",
        "COLUMNS": "300",
    }.items():
        monkeypatch.setenv(name, value)
    with Database(settings.database_url) as db:
        event_id = release(db)  # release 7
        add_partners(db)  # partners 1, 2, 3
        ids = deliver_webhooks(db, event_id)  # partner:3 failed for good
        rows = [
            r for r in parse_rows([f"{ADDRESS}\n", "a1@example.org\n"]) if isinstance(r, ImportRow)
        ]
        with db.session() as session:
            import_chunk(session, rows, True, "seed")  # subscribers 1 and 2
            bounced = session.get(Subscriber, 2)
            assert bounced is not None
            bounced.status, bounced.suppressed_reason = "suppressed", "5.1.1"
            session.add(
                Delivery(
                    key=f"{event_id}:email:subscriber:1",
                    event_id=event_id,
                    channel="email",
                    target="subscriber:1",
                    status="failed",
                    attempts=3,
                )
            )
        with db.session() as session:
            notice_id = post_notice(session, "partner.disabled", {"partner_id": 3})
            notice = session.get(Delivery, notice_id)
            assert notice is not None
            notice.status, notice.attempts = "failed", 3
        actions.pause_channel(db, "seed", "feeds")  # something to resume
        broker = redis.Redis.from_url(settings.redis_url or "")
        broker.rpush("email", "m1", "m2")
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with (
            serve(create_app(settings), port) as url,
            httpx.Client(base_url=url, headers=headers, timeout=30) as api,
            httpx.Client(base_url=url, timeout=30) as console,
        ):
            login(console, "김운영")
            yield World(settings, db, api, console, broker, ids[0], notice_id, tmp_path)
        broker.close()


@dataclass(frozen=True)
class Case:
    entry: str  # api | console | cli
    action: str
    target: str  # {notice}: the world's notice delivery
    done: Callable[[World], Any]  # performs the operation; returns what the caller saw
    refused: Callable[[World], Any]  # a variant that must be refused
    route: tuple[str, str] = ("", "")  # api: the method and the path it calls
    command: str = ""  # cli: the command it runs

    @property
    def id(self) -> str:
        return f"{self.entry}-{self.action}"


def _status(expected: int) -> Callable[[httpx.Response], httpx.Response]:
    def check(response: httpx.Response) -> httpx.Response:
        assert response.status_code == expected, response.text
        return response

    return check


def api(action: str, target: str, method: str, path: str, ok: int, bad_path: str, bad: int,
        bad_json: Any = None, **kwargs: Any) -> Case:  # fmt: skip
    def done(w: World) -> httpx.Response:
        return _status(ok)(w.api.request(method, path, **kwargs))

    def refused(w: World) -> httpx.Response:
        given = {**kwargs, **({"json": bad_json} if bad_json is not None else {})}
        return _status(bad)(w.api.request(method, bad_path, **given))

    return Case("api", action, target, done, refused, route=(method, path))


def console(action: str, target: str, name: str, value: str, bad_value: str, bad: int) -> Case:
    def done(w: World) -> httpx.Response:
        return _status(200)(confirm_and_act(w.console, name, value, hours="2"))

    def refused(w: World) -> httpx.Response:
        page = w.console.get(f"/ops/confirm/{name}", params={"target": value})
        fields = {"csrf_token": _csrf(page.text), "target": bad_value, "confirm": "yes"}
        return _status(bad)(w.console.post(f"/ops/actions/{name}", data=fields))

    return Case("console", action, target, done, refused)


def _csrf(html: str) -> str:
    marker = 'name="csrf_token" value="'
    return html.split(marker, 1)[1].split('"', 1)[0]


def cli(action: str, target: str, args: list[str], bad_args: list[str], bad: int) -> Case:
    def run(w: World, argv: list[str], code: int) -> Any:
        argv = [a.replace("{tmp}", str(w.tmp)) for a in argv]
        result = w.cli(*argv)
        assert result.exit_code == code, (result.output, result.exception)
        return result

    def done(w: World) -> Any:
        _files(w)
        return run(w, args, 0)

    def refused(w: World) -> Any:
        _files(w)
        return run(w, bad_args, bad)

    return Case("cli", action, target, done, refused, command=" ".join(args[:2]))


def _files(w: World) -> None:
    (w.tmp / "good.csv").write_text("new@example.org\n")
    (w.tmp / "bad.csv").write_text("not an address\n")


def _rotate_encryption(keys: str, code: int) -> Callable[[World], Any]:
    """`syndicator secret rotate-encryption` under SYNDICATOR_ENCRYPTION_KEYS=``keys``."""

    def run(w: World) -> Any:
        argv = ["secret", "rotate-encryption"]
        result = CliRunner().invoke(cli_app, argv, env={"SYNDICATOR_ENCRYPTION_KEYS": keys})
        assert result.exit_code == code, (result.output, result.exception)
        return result

    return run


NEW_KEY = generate_key()  # put first: every stored secret is resealed under it


def _replay_api(w: World) -> httpx.Response:
    return _status(202)(w.api.post(f"/api/deliveries/{w.delivery_id}/replay"))


def _replay_notice(w: World) -> httpx.Response:
    return _status(202)(w.api.post(f"/api/notices/{w.notice_id}/replay"))


SINCE = {"since": "2000-01-01T00:00:00Z"}
_CLIENT_KEY = ec.generate_private_key(ec.SECP256R1())
CLIENT_CERT = {
    "certificate": _issue("audit client", _CLIENT_KEY, None).public_bytes(_PEM).decode(),
    "key": _key_pem(_CLIENT_KEY),
}
CASES = [
    api("partner-create", "partner:4", "POST", "/api/partners", 201, "/api/partners", 422,
        json={"name": "연합뉴스", "url": PUBLIC_URL, "headers": {"Authorization": "k"}},
        bad_json={"name": "연합뉴스", "url": "https://127.0.0.1/hooks"}),
    api("partner-update", "partner:1", "PATCH", "/api/partners/1", 200, "/api/partners/99", 404,
        json={"url": PUBLIC_URL}),
    api("partner-delete", "partner:2", "DELETE", "/api/partners/2", 200, "/api/partners/99", 404),
    api("partner-enable", "partner:1", "POST", "/api/partners/1/enable", 200,
        "/api/partners/99/enable", 404),
    api("partner-disable", "partner:1", "POST", "/api/partners/1/disable", 200,
        "/api/partners/99/disable", 404),
    api("partner-rotate-secret", "partner:1", "POST", "/api/partners/1/secret/rotate", 200,
        "/api/partners/99/secret/rotate", 404),
    api("recover", "partner:3", "POST", "/api/partners/3/recover", 202,
        "/api/partners/99/recover", 404, params=SINCE),
    api("partner-client-cert", "partner:1", "PUT", "/api/partners/1/client-certificate", 200,
        "/api/partners/99/client-certificate", 404, json=CLIENT_CERT),
    api("partner-client-cert", "partner:1", "DELETE", "/api/partners/1/client-certificate",
        204, "/api/partners/99/client-certificate", 404),
    Case("api", "replay", "delivery:1", _replay_api,
         lambda w: _status(404)(w.api.post("/api/deliveries/99999/replay")),
         route=("POST", "/api/deliveries/1/replay")),
    api("portal-link", "partner:1", "POST", "/api/partners/1/portal-link", 200,
        "/api/partners/99/portal-link", 404),
    Case("api", "replay", "delivery:{notice}", _replay_notice,
         lambda w: _status(404)(w.api.post("/api/notices/99999/replay")),
         route=("POST", "/api/notices/1/replay")),
    api("erase", "subscriber:1", "DELETE", "/api/subscribers/1", 204, "/api/subscribers/99", 404),
    api("export", "subscribers", "GET", "/api/subscribers.csv", 200,
        "/api/subscribers.csv?status=bogus", 422),
    api("export", "subscribers", "GET", "/api/subscribers", 200,
        "/api/subscribers?status=bogus", 422),
    api("unsuppress", "subscriber:2", "POST", "/api/subscribers/2/unsuppress", 204,
        "/api/subscribers/1/unsuppress", 409),
    api("resend", "release:7", "POST", "/api/releases/7/resend-email", 202,
        "/api/releases/99/resend-email", 404),
    console("replay", "delivery:1", "replay", "1", "99999", 409),
    console("recover", "partner:3", "recover", "3", "99", 409),
    console("resend", "release:7", "resend", "7", "99", 409),
    console("pause", "channel:email", "pause", "email", "carrier-pigeon", 422),
    console("resume", "channel:feeds", "resume", "feeds", "carrier-pigeon", 422),
    console("unsuppress", "subscriber:2", "unsuppress", "2", "1", 409),
    cli("partner-create", "partner:4", ["partners", "add", "연합뉴스", PUBLIC_URL],
        ["partners", "add", "연합뉴스", "ftp://x"], 2),
    cli("partner-update", "partner:1", ["partners", "update", "1", "--name", "새 이름"],
        ["partners", "update", "99", "--name", "x"], 1),
    cli("partner-delete", "partner:2", ["partners", "delete", "2", "--yes"],
        ["partners", "delete", "99", "--yes"], 1),
    cli("partner-enable", "partner:1", ["partners", "enable", "1"],
        ["partners", "enable", "99"], 1),
    cli("partner-disable", "partner:1", ["partners", "disable", "1"],
        ["partners", "disable", "99"], 1),
    cli("partner-rotate-secret", "partner:1", ["partners", "rotate-secret", "1"],
        ["partners", "rotate-secret", "99"], 1),
    cli("partner-client-cert", "partner:1", ["partners", "client-cert", "1", "--remove"],
        ["partners", "client-cert", "99", "--remove"], 1),
    cli("recover", "partner:3", ["partners", "recover", "3", "--since", "7d"],
        ["partners", "recover", "99", "--since", "7d"], 1),
    cli("replay", "delivery:1", ["deliveries", "replay", "1"],
        ["deliveries", "replay", "99999"], 1),
    cli("import", "subscribers", ["subscribers", "import", "{tmp}/good.csv"],
        ["subscribers", "import", "{tmp}/bad.csv"], 3),
    cli("export", "subscribers", ["subscribers", "export"],
        ["subscribers", "export", "--status", "bogus"], 2),
    cli("export", "subscribers", ["subscribers", "list"],
        ["subscribers", "list", "--status", "bogus"], 2),
    cli("erase", "subscriber:1", ["subscribers", "erase", "1", "--yes"],
        ["subscribers", "erase", "99", "--yes"], 1),
    cli("unsuppress", "subscriber:2", ["subscribers", "unsuppress", "a1@example.org"],
        ["subscribers", "unsuppress", "nobody@example.org"], 1),
    cli("resend", "release:7", ["subscribers", "resend", "7"],
        ["subscribers", "resend", "99"], 1),
    cli("purge", "queue:email", ["queues", "purge", "email", "--yes"],
        ["queues", "purge", "carrier-pigeon", "--yes"], 2),
    Case("cli", "rotate-encryption", "partner-secrets",
         _rotate_encryption(f"{NEW_KEY} {ENCRYPTION_KEY}", 0),
         _rotate_encryption("not-a-fernet-key", 2),
         command="secret rotate-encryption"),
]  # fmt: skip
IDS = [f"{c.id}-{i}" if sum(d.id == c.id for d in CASES) > 1 else c.id for i, c in enumerate(CASES)]


def _audit_since(db: Database, after: int) -> list[AuditEntry]:
    with db.session() as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.id > after)))
        session.expunge_all()
        return rows


def _last_id(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc())) or 0


def _actor_prefix(case: Case) -> str:
    return {"api": api_actor(TOKEN), "console": "console:", "cli": "cli"}[case.entry]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_each_operation_leaves_one_audit_row_and_its_refusal_none(world: World, case: Case):
    """Refused first (bad input, unknown id): no row. Then done, in the same world (a
    refusal changes nothing, so the world is the one the operation was written for):
    exactly one row."""
    before = _last_id(world.db)
    case.refused(world)
    assert _audit_since(world.db, before) == []

    case.done(world)
    rows = _audit_since(world.db, before)
    target = case.target.format(notice=world.notice_id)
    assert [(r.action, r.target) for r in rows] == [(case.action, target)]
    (row,) = rows
    assert row.who.startswith(_actor_prefix(case)), row.who
    assert TOKEN not in row.who and TOKEN not in (row.detail or "")
    assert ADDRESS not in (row.detail or "") and "whsec_" not in (row.detail or "")
    assert row.at > utcnow() - timedelta(minutes=1)


def _refuse_audit_rows(db: Database) -> None:
    with db.session() as session:
        if session.get_bind().dialect.name == "sqlite":
            session.execute(
                text(
                    "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log "
                    "BEGIN SELECT RAISE(ABORT, 'audit refused'); END"
                )
            )
        else:
            session.execute(
                text(
                    "CREATE FUNCTION audit_refused() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'audit refused'; END $$"
                )
            )
            session.execute(
                text(
                    "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log "
                    "FOR EACH ROW EXECUTE FUNCTION audit_refused()"
                )
            )


def _snapshot(world: World) -> dict[str, Any]:
    with world.db.session() as session:
        tables = {
            name: sorted(map(repr, session.execute(text(f"SELECT * FROM {name}"))))
            for name in SNAPSHOT_TABLES
        }
    return {**tables, "email queue": world.broker.llen("email")}


def _shown(seen: Any) -> str:
    if isinstance(seen, httpx.Response):
        return seen.text
    return str(getattr(seen, "output", ""))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_when_the_audit_row_cannot_be_written_nothing_changes_and_nothing_leaves(
    world: World, case: Case
):
    _refuse_audit_rows(world.db)
    before = _snapshot(world)
    try:
        seen: Any = case.done(world)
    except AssertionError as refused:  # the entry point answered an error: as it should
        seen = refused
    else:
        pytest.fail(f"{case.id} succeeded without an audit row")
    assert _snapshot(world) == before
    assert ADDRESS not in _shown(seen) + str(seen)


# -- the guard: nothing escapes the matrix -----------------------------------------------

# Routes and commands that change nothing and hand out no personal data in bulk.
READ_ONLY_ROUTES = {
    ("GET", "/api/partners"),
    ("GET", "/api/partners/{partner_id}"),
    ("GET", "/api/deliveries"),
    ("GET", "/api/deliveries/{delivery_id}"),
    ("GET", "/api/partners/{partner_id}/client-certificate"),  # the certificate, never the key
    ("GET", "/api/notices"),
    ("GET", "/api/notices/{delivery_id}"),
}
READ_ONLY_COMMANDS = {
    "partners list",
    "partners show",
    "deliveries list",
    "deliveries show",
    "secret generate",  # prints a new secret, stores nothing
    "secret generate-encryption-key",
}
OPERATOR_GROUPS = ("partners", "deliveries", "subscribers", "queues", "secret")


def _admin_routes() -> set[tuple[str, str]]:
    """From the OpenAPI document: every /api operation that answers 401 without the token
    (the CMS hook's 401 is about its signature)."""
    app = create_app(load_settings({"SYNDICATOR_ADMIN_TOKEN": TOKEN}))
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if "401" in operation.get("responses", {}) and path.startswith("/api/")
    }


def _template_of(method: str, path: str, templates: set[tuple[str, str]]) -> tuple[str, str]:
    path = path.split("?")[0]
    for m, template in templates:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if m == method and re.fullmatch(pattern, path):
            return m, template
    raise AssertionError(f"no admin route for {method} {path}")


def test_every_admin_route_is_audited_or_read_only():
    routes = _admin_routes()
    covered = {_template_of(*case.route, routes) for case in CASES if case.entry == "api"}
    changing = {(m, p) for m, p in routes if m != "GET" or p.startswith("/api/subscribers")}
    assert changing - covered == set(), "audit these routes and add them to CASES"
    assert routes - covered == READ_ONLY_ROUTES, "a new read-only route? list it"


def test_every_console_action_is_in_the_matrix():
    assert {c.action for c in CASES if c.entry == "console"} == set(ACTIONS)


def _commands(group: Any, prefix: str) -> Iterator[str]:
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}"


def test_every_operator_command_is_audited_or_read_only():
    root = typer.main.get_command(cli_app)
    commands = {c for c in _commands(root, "") if c.split()[0] in OPERATOR_GROUPS and " " in c}
    covered = {case.command for case in CASES if case.entry == "cli"}
    assert commands - covered - READ_ONLY_COMMANDS == set(), "audit these commands"


# -- what a detail may say ----------------------------------------------------------------

_HEADER_NAMES = st.from_regex(r"X-[A-Za-z0-9]{1,20}", fullmatch=True)
# A value never fits inside a header name (a colon), so finding it means it leaked.
_VALUES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789+/=", min_size=12, max_size=60).map(
    lambda text: f"secret:{text}"
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    headers=st.dictionaries(_HEADER_NAMES, _VALUES, max_size=5),
    new_headers=st.dictionaries(_HEADER_NAMES, _VALUES, max_size=5),
    reason=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=200),
)
def test_a_detail_never_holds_a_header_value_or_a_signing_secret(
    db: Database, headers: dict[str, str], new_headers: dict[str, str], reason: str
) -> None:
    def unique(names: dict[str, str]) -> dict[str, str]:  # header names ignore case
        return {k: v for k, v in names.items() if [n.lower() for n in names].count(k.lower()) == 1}

    spec = registry.load_spec(
        PartnerSpec, {"name": "p", "url": PUBLIC_URL, "headers": unique(headers)}
    )
    before = _last_id(db)
    created = registry.create(db, spec, "test", ring=ring())
    partner_id = created.partner.id
    patch = registry.load_spec(PartnerPatch, {"headers": unique(new_headers)})
    registry.update(db, partner_id, patch, "test", ring=ring())
    registry.disable(db, partner_id, "test", reason)
    rotated = registry.rotate_secret(db, partner_id, timedelta(hours=1), "test", ring=ring())
    registry.delete(db, partner_id, "test")
    details = " ".join(row.detail or "" for row in _audit_since(db, before))
    for secret in (*headers.values(), *new_headers.values(), created.secret, rotated.secret):
        assert secret not in details

"""`syndicator partners …`: the admin API's partner routes, on the database directly."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import typer
from rich.table import Table

from syndicator.commands.output import (
    JSON_OPTION,
    cli_settings,
    console,
    fail,
    parse_since,
    print_json,
    when,
)
from syndicator.config import Settings
from syndicator.ops.audit import cli_operator
from syndicator.partners import client_certs, delivery_log, registry
from syndicator.partners.delivery_log import NotResendable
from syndicator.partners.registry import (
    EVENT_TYPES,
    InvalidPartner,
    PartnerNotFound,
    PartnerPatch,
    PartnerSpec,
    PartnerView,
    SignatureScheme,
)
from syndicator.store.db import Database
from syndicator.store.sealed import InvalidEncryptionKey, Keyring, keyring

__all__ = ["app"]

app = typer.Typer(
    help="Partner webhook endpoints: add, list, rotate secrets, enable, disable.",
    no_args_is_help=True,
)

T = TypeVar("T")

JSON = JSON_OPTION
EVENT_TYPE_HELP = f"Receive only this type ({', '.join(EVENT_TYPES)}); repeat for several."
HEADER_HELP = (
    "An extra request header, 'Name: value'; repeat for several. Authorization, Cookie and "
    "names that look like a credential (key, token, secret, ...) are stored secret."
)
CONTACT_HELP = "Where a fresh portal link is mailed when the partner asks for one."
SCHEME_HELP = (
    "v1 (HMAC with a shared whsec_ secret, the default) or ed25519 (Standard Webhooks v1a: "
    "the partner verifies with a whpk_ public key; no secret is shared)."
)
SECRET_HEADER_HELP = "An extra header stored secret (encrypted, never shown again), 'Name: value'."


@contextmanager
def _database() -> Iterator[tuple[Database, Settings]]:
    settings = cli_settings()
    with Database(settings.database_url) as db:
        yield db, settings


def _call(action: Callable[[], T]) -> T:
    """The registry's errors as one line each: 2 for bad input, 1 for the rest."""
    try:
        return action()
    except InvalidPartner as exc:
        fail(f"refused: {exc}", 2)
    except PartnerNotFound as exc:
        fail(str(exc))
    except NotResendable as exc:
        fail(str(exc))
    except InvalidEncryptionKey as exc:
        fail(str(exc))


def _keyring(settings: Settings) -> Keyring:
    return _call(lambda: keyring(settings.encryption_keys))


def _headers(
    pairs: Sequence[str], secret_pairs: Sequence[str] = (), keep: Sequence[str] = ()
) -> dict[str, Any]:
    """Headers as the API takes them: a value (the default flag), or a value and a flag;
    a kept header is null, its stored value unchanged."""
    headers: dict[str, Any] = {}
    for option, given, secret in (
        ("--header", pairs, None),
        ("--secret-header", secret_pairs, True),
    ):
        for pair in given:
            name, sep, value = pair.partition(":")
            if not sep:
                name, sep, value = pair.partition("=")
            if not sep:
                fail(f"{option} {pair!r}: write it as 'Name: value'", 2)
            value = value.strip()
            headers[name.strip()] = value if secret is None else {"value": value, "secret": True}
    for name in keep:
        headers[name.strip()] = {"value": None}
    return headers


def _table(partners: list[PartnerView]) -> Table:
    table = Table("id", "name", "url", "state", "event types", "failing since", title="Partners")
    for p in partners:
        state = p.state if not p.disabled_reason else f"{p.state} ({p.disabled_reason})"
        table.add_row(
            str(p.id),
            p.name,
            p.url,
            state,
            ", ".join(p.event_types) if p.event_types else "all",
            when(p.failing_since),
        )
    return table


def _details(p: PartnerView) -> Table:
    table = Table("field", "value", title=f"Partner {p.id}", show_header=False)
    rows: list[tuple[str, Any]] = [
        ("name", p.name),
        ("url", p.url),
        ("state", p.state),
        ("disabled", f"{when(p.disabled_at)} {p.disabled_reason or ''}".strip()),
        ("failing since", when(p.failing_since)),
        ("event types", ", ".join(p.event_types) if p.event_types else "all"),
        ("headers", _shown_headers(p) or "-"),
        ("rate limit", "-" if p.rate_limit_per_s is None else f"{p.rate_limit_per_s:g}/s"),
        ("max in flight", "default" if p.max_in_flight is None else str(p.max_in_flight)),
        ("departments", ", ".join(p.departments) or "all"),
        ("categories", ", ".join(p.categories) or "all"),
        ("signature scheme", p.signature_scheme),
        ("public key", p.public_key or "-"),
        ("created", when(p.created_at)),
        ("updated", when(p.updated_at)),
    ]
    for n, key in enumerate(p.signing_keys, 1):
        expiry = "in use" if key.expires_at is None else f"signs until {when(key.expires_at)}"
        made = f"{key.scheme}, made {when(key.created_at)}, {expiry}"
        rows.append((f"signing key {n}", made))
    for name, value in rows:
        table.add_row(name, str(value))
    return table


def _shown_headers(p: PartnerView) -> str:
    return ", ".join(
        f"{name}: (secret, set)" if h.secret else f"{name}: {h.value}"
        for name, h in p.headers.items()
    )


def _show(view: PartnerView, as_json: bool, secret: str | None = None) -> None:
    if as_json:
        print_json({**view.model_dump(mode="json"), **({"secret": secret} if secret else {})})
        return
    console.print(_details(view))
    if secret:
        console.print(f"signing secret (shown only now): [bold]{secret}[/]", soft_wrap=True)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Shown to operators, e.g. 연합뉴스."),
    url: str = typer.Argument(..., help="Where deliveries are POSTed (http or https)."),
    event_type: list[str] = typer.Option([], "--event-type", help=EVENT_TYPE_HELP),
    header: list[str] = typer.Option([], "--header", help=HEADER_HELP),
    secret_header: list[str] = typer.Option([], "--secret-header", help=SECRET_HEADER_HELP),
    rate_limit: float = typer.Option(None, "--rate-limit", help="Requests per second at most."),
    max_in_flight: int = typer.Option(None, "--max-in-flight", help="Requests in flight at most."),
    department: list[str] = typer.Option([], "--department", help="Only this department."),
    category: list[str] = typer.Option([], "--category", help="Only this category."),
    signature_scheme: str = typer.Option("v1", "--signature-scheme", help=SCHEME_HELP),
    contact_email: str = typer.Option(None, "--contact-email", help=CONTACT_HELP),
    as_json: bool = JSON,
) -> None:
    """Register a partner; prints its signing secret (v1), shown only this once, or its
    public key (ed25519)."""
    data: dict[str, Any] = {
        "name": name,
        "url": url,
        "headers": _headers(header, secret_header),
        "departments": department,
        "categories": category,
        "signature_scheme": signature_scheme,
    }
    if event_type:
        data["event_types"] = event_type
    if contact_email is not None:
        data["contact_email"] = contact_email
    if rate_limit is not None:
        data["rate_limit_per_s"] = rate_limit
    if max_in_flight is not None:
        data["max_in_flight"] = max_in_flight
    with _database() as (db, settings):
        spec: PartnerSpec = _call(lambda: registry.load_spec(PartnerSpec, data))
        ring = _keyring(settings)
        created = _call(
            lambda: registry.create(
                db, spec, cli_operator(), settings.webhook_allowed_networks, ring=ring
            )
        )
    _show(created.partner, as_json, created.secret)


@app.command("list")
def list_(as_json: bool = JSON) -> None:
    """Every partner (deleted ones excepted)."""
    with _database() as (db, _):
        partners = registry.list_partners(db)
    if as_json:
        print_json(partners)
    elif partners:
        console.print(_table(partners))
    else:
        console.print("no partner yet: syndicator partners add NAME URL")


@app.command("show")
def show(
    partner_id: int = typer.Argument(..., help="The partner's id."), as_json: bool = JSON
) -> None:
    """One partner, with its signing keys' dates (never the keys)."""
    with _database() as (db, _):
        view = _call(lambda: registry.get(db, partner_id))
    _show(view, as_json)


@app.command("update")
def update(
    partner_id: int = typer.Argument(..., help="The partner's id."),
    name: str = typer.Option(None, "--name", help="A new name."),
    url: str = typer.Option(None, "--url", help="A new URL (checked by the SSRF guard)."),
    event_type: list[str] = typer.Option([], "--event-type", help=EVENT_TYPE_HELP),
    all_event_types: bool = typer.Option(False, "--all-event-types", help="Every type again."),
    header: list[str] = typer.Option([], "--header", help=HEADER_HELP + " Replaces them all."),
    secret_header: list[str] = typer.Option(
        [], "--secret-header", help=SECRET_HEADER_HELP + " Replaces them all, with --header."
    ),
    keep_header: list[str] = typer.Option(
        [], "--keep-header", help="Keep this header's stored value while replacing the others."
    ),
    no_headers: bool = typer.Option(False, "--no-headers", help="Remove every extra header."),
    rate_limit: float = typer.Option(None, "--rate-limit", help="Requests per second at most."),
    no_rate_limit: bool = typer.Option(False, "--no-rate-limit", help="Remove the rate limit."),
    max_in_flight: int = typer.Option(None, "--max-in-flight", help="Requests in flight at most."),
    department: list[str] = typer.Option([], "--department", help="Only this department."),
    all_departments: bool = typer.Option(False, "--all-departments", help="Every department."),
    category: list[str] = typer.Option([], "--category", help="Only this category."),
    all_categories: bool = typer.Option(False, "--all-categories", help="Every category."),
    signature_scheme: str = typer.Option(
        None,
        "--signature-scheme",
        help="ed25519: a new key pair (the old key signs for the grace period). Back to v1: "
        "rotate-secret --signature-scheme v1.",
    ),
    contact_email: str = typer.Option(None, "--contact-email", help=CONTACT_HELP),
    no_contact_email: bool = typer.Option(
        False, "--no-contact-email", help="Remove the contact address."
    ),
    as_json: bool = JSON,
) -> None:
    """Change a partner: only the options given change."""
    data: dict[str, Any] = {}
    if name is not None:
        data["name"] = name
    if url is not None:
        data["url"] = url
    if event_type or all_event_types:
        data["event_types"] = None if all_event_types else event_type
    if header or secret_header or keep_header or no_headers:
        data["headers"] = {} if no_headers else _headers(header, secret_header, keep_header)
    if rate_limit is not None or no_rate_limit:
        data["rate_limit_per_s"] = None if no_rate_limit else rate_limit
    if max_in_flight is not None:
        data["max_in_flight"] = max_in_flight
    if department or all_departments:
        data["departments"] = [] if all_departments else department
    if category or all_categories:
        data["categories"] = [] if all_categories else category
    if signature_scheme is not None:
        data["signature_scheme"] = signature_scheme
    if contact_email is not None or no_contact_email:
        data["contact_email"] = None if no_contact_email else contact_email
    if not data:
        fail("nothing to change: give at least one option (see --help)", 2)
    with _database() as (db, settings):
        patch: PartnerPatch = _call(lambda: registry.load_spec(PartnerPatch, data))
        ring = _keyring(settings)
        grace = timedelta(hours=settings.webhook_secret_grace_hours)
        view = _call(
            lambda: registry.update(
                db,
                partner_id,
                patch,
                cli_operator(),
                settings.webhook_allowed_networks,
                ring=ring,
                grace=grace,
            )
        )
    _show(view, as_json)


@app.command("delete")
def delete(
    partner_id: int = typer.Argument(..., help="The partner's id."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    as_json: bool = JSON,
) -> None:
    """Delete a partner: its keys and headers are erased, pending deliveries suppressed."""
    if not yes and not typer.confirm(f"delete partner {partner_id}?"):
        fail("not deleted", 1)
    with _database() as (db, _):
        suppressed = _call(lambda: registry.delete(db, partner_id, cli_operator()))
    if as_json:
        print_json({"id": partner_id, "deleted": True, "suppressed_deliveries": suppressed})
    else:
        console.print(
            f"partner {partner_id} deleted; {suppressed} pending deliveries will not be sent"
        )


@app.command("rotate-secret")
def rotate_secret(
    partner_id: int = typer.Argument(..., help="The partner's id."),
    signature_scheme: str = typer.Option(
        None, "--signature-scheme", help=SCHEME_HELP + " Default: the partner's."
    ),
    as_json: bool = JSON,
) -> None:
    """A new signing key (a secret shown once, or an Ed25519 public key); the old one keeps
    signing alongside it for the grace period (SYNDICATOR_WEBHOOK_SECRET_GRACE_HOURS,
    24 h by default)."""
    if signature_scheme not in (None, "v1", "ed25519"):
        fail(f"--signature-scheme {signature_scheme!r}: v1 or ed25519", 2)
    scheme = cast("SignatureScheme | None", signature_scheme)
    with _database() as (db, settings):
        grace = timedelta(hours=settings.webhook_secret_grace_hours)
        ring = _keyring(settings)
        rotated = _call(
            lambda: registry.rotate_secret(
                db, partner_id, grace, cli_operator(), ring=ring, scheme=scheme
            )
        )
    _show(rotated.partner, as_json, rotated.secret)


@app.command("client-cert")
def client_cert(
    partner_id: int = typer.Argument(..., help="The partner's id."),
    cert: Path | None = typer.Option(None, help="The client certificate (chain), PEM."),
    key: Path | None = typer.Option(None, help="Its private key, PEM, unencrypted."),
    remove: bool = typer.Option(False, "--remove", help="Stop presenting one."),
    as_json: bool = JSON,
) -> None:
    """Set (or remove) the client certificate a partner requires (mutual TLS). The key is
    encrypted at rest and never shown again."""
    with _database() as (db, settings):
        if remove:
            removed = _call(lambda: client_certs.clear(db, partner_id, cli_operator()))
            if as_json:
                print_json({"partner_id": partner_id, "removed": removed})
            else:
                console.print(f"partner {partner_id}: client certificate removed")
            return
        if cert is None or key is None:
            fail("give --cert and --key (or --remove)", 2)
        ring = _keyring(settings)
        pem, secret = cert.read_text(encoding="ascii"), key.read_text(encoding="ascii")
        shown = _call(
            lambda: client_certs.set_cert(db, partner_id, pem, secret, cli_operator(), ring=ring)
        )
    if as_json:
        print_json(shown.model_dump(mode="json"))
    else:
        console.print(
            f"partner {partner_id}: client certificate {shown.subject}, "
            f"valid until {shown.not_after.isoformat()}"
        )


@app.command("enable")
def enable(
    partner_id: int = typer.Argument(..., help="The partner's id."), as_json: bool = JSON
) -> None:
    """Enable a partner; clears the disabled reason and the failing-since clock."""
    with _database() as (db, _):
        view = _call(lambda: registry.enable(db, partner_id, cli_operator()))
    _show(view, as_json)


@app.command("disable")
def disable(
    partner_id: int = typer.Argument(..., help="The partner's id."),
    reason: str = typer.Option(None, "--reason", help="Why, for the other operators."),
    as_json: bool = JSON,
) -> None:
    """Disable a partner: nothing is sent to it until it is enabled."""
    with _database() as (db, _):
        view = _call(lambda: registry.disable(db, partner_id, cli_operator(), reason))
    _show(view, as_json)


@app.command("recover")
def recover(
    partner_id: int = typer.Argument(..., help="The partner's id."),
    since: str = typer.Option(
        ..., "--since", help="RFC 3339 (2026-11-28T09:00:00+09:00) or an age (24h, 7d)."
    ),
    as_json: bool = JSON,
) -> None:
    """Resend every delivery to the partner that failed since a time (logged as manual)."""
    start = parse_since(since)
    with _database() as (db, _):
        resent = _call(lambda: delivery_log.recover(db, partner_id, start, cli_operator()))
    if as_json:
        print_json({"partner_id": partner_id, "since": start.isoformat(), "resent": resent})
    else:
        console.print(
            f"{resent} failed deliveries to partner {partner_id} since {when(start)} UTC are "
            "due now; workers resend them within seconds (trigger: manual)"
        )

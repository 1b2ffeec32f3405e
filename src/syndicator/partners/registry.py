"""Partners: register, change, rotate their signing keys, enable, disable, delete.

The admin API and the CLI both call these functions; neither knows the rules twice.
Input is validated by :class:`PartnerSpec` / :class:`PartnerPatch` (strict bounds, one
error per field) and the URL by the SSRF guard, which resolves the host: that happens
before any transaction opens, so a slow DNS answer never holds the database.

A deleted partner keeps its row as a tombstone (state ``deleted``): its id is never
given to another partner (SQLite reuses the highest rowid), so ``partner:<id>`` in the
ledger and the delivery log always means the same endpoint. Its headers and signing keys
are erased, and its pending deliveries are suppressed in the same transaction.

Every change takes ``who`` (see :mod:`syndicator.ops.audit`) and writes its audit row in
its own transaction: the details name fields and counts, never a header value or a key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    field_validator,
)
from sqlalchemy import delete as delete_rows
from sqlalchemy import select
from sqlalchemy import update as update_rows
from sqlalchemy.orm import Session

from syndicator.events.schema import EventType
from syndicator.events.signing import generate_secret
from syndicator.ops.audit import write_audit
from syndicator.partners.ssrf import Resolve, UrlRefused, check_url
from syndicator.store.db import Database
from syndicator.store.ledger import chunked
from syndicator.store.models import Delivery, Partner, PartnerSecret, utcnow

__all__ = [
    "CHANNEL",
    "EVENT_TYPES",
    "MAX_HEADERS",
    "RESERVED_HEADERS",
    "InvalidPartner",
    "NewSecret",
    "PartnerNotFound",
    "PartnerPatch",
    "PartnerSpec",
    "PartnerView",
    "Reason",
    "SigningKey",
    "create",
    "delete",
    "disable",
    "enable",
    "get",
    "list_partners",
    "load_spec",
    "partner_target",
    "rotate_secret",
    "update",
]

CHANNEL = "webhooks"  # the ledger's channel name for partner deliveries
EVENT_TYPES: tuple[str, ...] = tuple(t.value for t in EventType)
MAX_HEADERS = 20
MAX_HEADER_VALUE_CHARS = 1000
MAX_TOPICS = 100
# RFC 9110 token characters.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}")
# Control characters, and lone surrogates (not text: no database stores them).
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
# Headers a partner may not set: hop-by-hop ones (RFC 9110 7.6.1), the ones the HTTP
# client owns, and the Standard Webhooks ones that carry the signature.
RESERVED_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-type",
        "content-encoding",
        "user-agent",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


def partner_target(partner_id: int) -> str:
    """The ledger's reference to a partner."""
    return f"partner:{partner_id}"


class PartnerNotFound(LookupError):
    def __init__(self, partner_id: int) -> None:
        super().__init__(f"no partner {partner_id}")
        self.partner_id = partner_id


class InvalidPartner(ValueError):
    """Input refused; ``errors`` name each field and why."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in errors))
        self.errors = errors


# --- Field types: the bounds, once, for the API's OpenAPI document and the CLI ---


def _no_control(value: object) -> object:
    # Before stripping: a name ending in a newline is a mistake, not something to tidy.
    if isinstance(value, str) and _CONTROL.search(value):
        raise ValueError("must not contain control characters (newlines, NUL, ...)")
    return value


def _url_shape(value: str) -> str:
    """The shape only; whether the host may be reached is the SSRF guard's question."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError as exc:
        raise ValueError(f"is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host, e.g. https://partner.example/hooks")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials; send them in a header instead")
    if any(c.isspace() for c in value) or _CONTROL.search(value):
        raise ValueError("must not contain whitespace or control characters")
    return value


def _unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat an entry")
    return values


def _headers(values: dict[str, str]) -> dict[str, str]:
    seen: set[str] = set()
    for name, value in values.items():
        if not _HEADER_NAME.fullmatch(name):
            shown = name[:40] + ("…" if len(name) > 40 else "")
            raise ValueError(f"{shown!r} is not a header name (letters, digits, - and a few signs)")
        lowered = name.lower()
        if lowered in RESERVED_HEADERS or lowered.startswith("webhook-"):
            raise ValueError(f"{name} is set by syndicator or the connection, not by a partner")
        if lowered in seen:
            raise ValueError(f"{name} is given twice (header names ignore case)")
        seen.add(lowered)
        if len(value) > MAX_HEADER_VALUE_CHARS:
            raise ValueError(f"the value of {name} is longer than {MAX_HEADER_VALUE_CHARS}")
        if _CONTROL.search(value):
            raise ValueError(f"the value of {name} contains control characters")
    return values


# (Constraints first: pydantic applies them to the string type; the before-validator
# runs ahead of the whole chain wherever it is listed.)
Name = Annotated[
    StrictStr,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    BeforeValidator(_no_control),
]
Url = Annotated[StrictStr, StringConstraints(max_length=2048), AfterValidator(_url_shape)]
EventTypes = Annotated[
    list[EventType], Field(min_length=1, max_length=len(EVENT_TYPES)), AfterValidator(_unique)
]
Headers = Annotated[
    dict[StrictStr, StrictStr], Field(max_length=MAX_HEADERS), AfterValidator(_headers)
]
RateLimit = Annotated[StrictFloat, Field(gt=0, le=10_000)]
InFlight = Annotated[StrictInt, Field(ge=1, le=1000)]
Topics = Annotated[list[Name], Field(max_length=MAX_TOPICS), AfterValidator(_unique)]
# Why a partner was disabled: free text, but text (PostgreSQL refuses a NUL outright).
Reason = Annotated[
    StrictStr,
    StringConstraints(strip_whitespace=True, max_length=500),
    BeforeValidator(_no_control),
]

_DOC = {
    "name": "Shown to operators, e.g. 연합뉴스.",
    "url": "Where deliveries are POSTed: http(s), a public address (the SSRF guard).",
    "event_types": "Types to receive; absent or null: every type.",
    "headers": "Extra request headers, e.g. an API key the partner expects.",
    "rate_limit_per_s": "Requests per second to this partner at most; null: no limit.",
    "max_in_flight": "Requests in flight to this partner at most; null: the default.",
    "departments": "Only releases of these departments (by name); empty: every one.",
    "categories": "Only releases in these categories (by name); empty: every one.",
}


class PartnerSpec(BaseModel):
    """A new partner: only ``name`` and ``url`` are required."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "연합뉴스",
                    "url": "https://partner.example/hooks",
                    "event_types": ["release.published"],
                    "headers": {"X-Env": "prod"},
                    "rate_limit_per_s": 10,
                    "max_in_flight": 4,
                    "departments": [],
                    "categories": [],
                }
            ]
        },
    )

    name: Name = Field(description=_DOC["name"])
    url: Url = Field(description=_DOC["url"])
    event_types: EventTypes | None = Field(None, description=_DOC["event_types"])
    headers: Headers = Field(default_factory=dict, description=_DOC["headers"])
    rate_limit_per_s: RateLimit | None = Field(None, description=_DOC["rate_limit_per_s"])
    max_in_flight: InFlight | None = Field(None, description=_DOC["max_in_flight"])
    departments: Topics = Field(default_factory=list, description=_DOC["departments"])
    categories: Topics = Field(default_factory=list, description=_DOC["categories"])


class PartnerPatch(BaseModel):
    """Only the fields given change; ``null`` resets the optional ones to their default."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(None, description=_DOC["name"])
    url: Url | None = Field(None, description=_DOC["url"])
    event_types: EventTypes | None = Field(None, description=_DOC["event_types"])
    headers: Headers | None = Field(None, description=_DOC["headers"] + " Replaces them all.")
    rate_limit_per_s: RateLimit | None = Field(None, description=_DOC["rate_limit_per_s"])
    max_in_flight: InFlight | None = Field(None, description=_DOC["max_in_flight"])
    departments: Topics | None = Field(None, description=_DOC["departments"])
    categories: Topics | None = Field(None, description=_DOC["categories"])

    @field_validator("name", "url", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be changed but not removed")
        return value


def load_spec(model: type[PartnerSpec] | type[PartnerPatch], data: object) -> Any:
    """Validate ``data`` (a parsed JSON body, CLI options) or raise :class:`InvalidPartner`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidPartner(_field_errors(exc)) from None


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {
            "field": ".".join(str(p) for p in err["loc"]) or "(body)",
            "reason": err["msg"].removeprefix("Value error, "),
        }
        for err in exc.errors(include_url=False)
    ]


# --- What the API and the CLI show (never a secret, apart from the one just made) ---


class SigningKey(BaseModel):
    created_at: datetime
    expires_at: datetime | None = Field(
        description="After a rotation the old key signs alongside the new one until then."
    )


class PartnerView(BaseModel):
    id: int
    name: str
    url: str
    event_types: list[str] | None
    headers: dict[str, str]
    rate_limit_per_s: float | None
    max_in_flight: int | None
    departments: list[str]
    categories: list[str]
    state: str = Field(description="active | disabled")
    disabled_reason: str | None
    disabled_at: datetime | None
    failing_since: datetime | None = Field(
        description="The first failure since the last success; 5 days of only failures "
        "disable the partner."
    )
    created_at: datetime
    updated_at: datetime
    signing_keys: list[SigningKey]


class NewSecret(BaseModel):
    partner: PartnerView
    secret: str = Field(description="whsec_…: shown only this once.")


def _keys(session: Session, partner_ids: Sequence[int]) -> dict[int, list[SigningKey]]:
    """The keys still signing, newest first, for every partner given: one query."""
    now = utcnow()
    keys: dict[int, list[SigningKey]] = {i: [] for i in partner_ids}
    for ids in chunked(partner_ids):
        rows = session.scalars(
            select(PartnerSecret)
            .where(PartnerSecret.partner_id.in_(ids))
            .order_by(PartnerSecret.id.desc())
        )
        for k in rows:
            if k.expires_at is None or k.expires_at > now:
                keys[k.partner_id].append(
                    SigningKey(created_at=k.created_at, expires_at=k.expires_at)
                )
    return keys


def _view(session: Session, partner: Partner, keys: list[SigningKey] | None = None) -> PartnerView:
    if keys is None:
        keys = _keys(session, [partner.id])[partner.id]
    return PartnerView(
        id=partner.id,
        name=partner.name,
        url=partner.url,
        event_types=partner.event_types,
        headers=partner.headers,
        rate_limit_per_s=partner.rate_limit_per_s,
        max_in_flight=partner.max_in_flight,
        departments=partner.departments,
        categories=partner.categories,
        state=partner.state,
        disabled_reason=partner.disabled_reason,
        disabled_at=partner.disabled_at,
        failing_since=partner.failing_since,
        created_at=partner.created_at,
        updated_at=partner.updated_at,
        signing_keys=keys,
    )


# --- Operations ---


def _check_reachable(url: str, allowed_networks: Sequence[str], resolve: Resolve | None) -> None:
    try:
        check_url(url, allowed_networks, resolve)
    except UrlRefused as exc:
        raise InvalidPartner([{"field": "url", "reason": exc.reason}]) from None


def _live(session: Session, partner_id: int, lock: bool = False) -> Partner:
    query = select(Partner).where(Partner.id == partner_id, Partner.state != "deleted")
    partner = session.scalar(query.with_for_update() if lock else query)
    if partner is None:
        raise PartnerNotFound(partner_id)
    return partner


def _fields(names: Sequence[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def create(
    db: Database,
    spec: PartnerSpec,
    who: str,
    allowed_networks: Sequence[str] = (),
    resolve: Resolve | None = None,
) -> NewSecret:
    """Register a partner with a new signing key; the key is returned only here."""
    _check_reachable(spec.url, allowed_networks, resolve)
    now = utcnow()
    secret = generate_secret()
    with db.session() as session:
        partner = Partner(
            **spec.model_dump(mode="json"), state="active", created_at=now, updated_at=now
        )
        session.add(partner)
        session.flush()
        session.add(PartnerSecret(partner_id=partner.id, secret=secret, created_at=now))
        given = spec.model_dump(exclude_unset=True)
        detail = f"fields: {_fields(list(given))}; header names: {_fields(list(spec.headers))}"
        write_audit(session, who, "partner-create", partner_target(partner.id), detail)
        return NewSecret(partner=_view(session, partner), secret=secret)


def list_partners(db: Database) -> list[PartnerView]:
    with db.session() as session:
        rows = list(
            session.scalars(select(Partner).where(Partner.state != "deleted").order_by(Partner.id))
        )
        keys = _keys(session, [p.id for p in rows])
        return [_view(session, p, keys[p.id]) for p in rows]


def get(db: Database, partner_id: int) -> PartnerView:
    with db.session() as session:
        return _view(session, _live(session, partner_id))


def update(
    db: Database,
    partner_id: int,
    patch: PartnerPatch,
    who: str,
    allowed_networks: Sequence[str] = (),
    resolve: Resolve | None = None,
) -> PartnerView:
    changes = patch.model_dump(mode="json", exclude_unset=True)
    if "url" in changes:
        _check_reachable(changes["url"], allowed_networks, resolve)
    for field in ("headers", "departments", "categories"):
        if field in changes and changes[field] is None:
            changes[field] = {} if field == "headers" else []
    with db.session() as session:
        partner = _live(session, partner_id, lock=True)
        for field, value in changes.items():
            setattr(partner, field, value)
        partner.updated_at = utcnow()
        detail = f"fields: {_fields(list(changes))}"
        write_audit(session, who, "partner-update", partner_target(partner_id), detail)
        return _view(session, partner)


def enable(db: Database, partner_id: int, who: str) -> PartnerView:
    """Active again, with a clean slate: the five-day failure clock starts over."""
    with db.session() as session:
        partner = _live(session, partner_id, lock=True)
        partner.state = "active"
        partner.disabled_reason = None
        partner.disabled_at = None
        partner.failing_since = None
        partner.updated_at = utcnow()
        write_audit(session, who, "partner-enable", partner_target(partner_id))
        return _view(session, partner)


def disable(db: Database, partner_id: int, who: str, reason: str | None = None) -> PartnerView:
    with db.session() as session:
        partner = _live(session, partner_id, lock=True)
        now = utcnow()
        if partner.state != "disabled":
            partner.disabled_at = now
        partner.state = "disabled"
        partner.disabled_reason = (reason or "").strip() or "disabled by an operator"
        partner.updated_at = now
        detail = f"reason: {partner.disabled_reason}"
        write_audit(session, who, "partner-disable", partner_target(partner_id), detail)
        return _view(session, partner)


def delete(db: Database, partner_id: int, who: str) -> int:
    """Tombstone the partner, erase its credentials and suppress its pending deliveries
    (returns how many). Rows a worker is sending right now finish as that worker decides;
    the delivery log keeps every past attempt until retention removes it."""
    with db.session() as session:
        partner = _live(session, partner_id, lock=True)
        now = utcnow()
        partner.state = "deleted"
        partner.headers = {}
        partner.disabled_reason = "deleted by an operator"
        partner.disabled_at = now
        partner.updated_at = now
        session.execute(delete_rows(PartnerSecret).where(PartnerSecret.partner_id == partner_id))
        suppressed = session.execute(
            update_rows(Delivery)
            .where(
                Delivery.channel == CHANNEL,
                Delivery.target == partner_target(partner_id),
                Delivery.status == "pending",
            )
            .values(
                status="suppressed",
                next_attempt_at=None,
                last_error="partner deleted",
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        count = int(getattr(suppressed, "rowcount", 0) or 0)
        detail = f"{count} pending deliveries suppressed; keys and headers erased"
        write_audit(session, who, "partner-delete", partner_target(partner_id), detail)
        return count


def rotate_secret(db: Database, partner_id: int, grace: timedelta, who: str) -> NewSecret:
    """A new signing key; the keys in use keep signing alongside it for ``grace``."""
    with db.session() as session:
        partner = _live(session, partner_id, lock=True)
        now = utcnow()
        retire_at = now + grace
        keys = session.scalars(select(PartnerSecret).where(PartnerSecret.partner_id == partner_id))
        for key in keys:
            if key.expires_at is not None and key.expires_at <= now:
                session.delete(key)  # long out of use: nothing signs with it any more
            elif key.expires_at is None or key.expires_at > retire_at:
                key.expires_at = retire_at
        secret = generate_secret()
        session.add(PartnerSecret(partner_id=partner_id, secret=secret, created_at=now))
        partner.updated_at = now
        detail = f"new signing key; the previous ones sign until {retire_at.isoformat()}"
        write_audit(session, who, "partner-rotate-secret", partner_target(partner_id), detail)
        return NewSecret(partner=_view(session, partner), secret=secret)

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

Signing secrets and secret headers (credentials: ``Authorization``, ``Cookie``, names that
look like one, and any header the operator marks ``secret``) are sealed with the
configured keyring before they are stored (store/sealed.py), and no view shows them: a
signing secret is shown once, in the answer that made it; a secret header is listed with
``"value": null, "secret": true``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
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
from syndicator.ledger.chunks import chunked
from syndicator.partners.signing import generate_signing_key, public_key
from syndicator.partners.ssrf import Resolve, UrlRefused, check_url
from syndicator.store.audit import write_audit
from syndicator.store.db import Database
from syndicator.store.models import Delivery, Partner, PartnerSecret, utcnow
from syndicator.store.sealed import Keyring, UnreadableSecret

__all__ = [
    "ALWAYS_SECRET_HEADERS",
    "CHANNEL",
    "EVENT_TYPES",
    "MAX_HEADERS",
    "RESERVED_HEADERS",
    "HeaderSpec",
    "HeaderView",
    "InvalidPartner",
    "NewSecret",
    "PartnerNotFound",
    "PartnerPatch",
    "PartnerSpec",
    "PartnerView",
    "Reason",
    "SignatureScheme",
    "SigningKey",
    "create",
    "delete",
    "disable",
    "enable",
    "get",
    "is_credential_name",
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


# Credentials whatever the operator says; other names that look like one are secret
# unless the operator says otherwise.
ALWAYS_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_CREDENTIAL_NAME = re.compile(
    r"key|token|secret|auth|passw|session|cookie|signature|credential", re.IGNORECASE
)


def is_credential_name(name: str) -> bool:
    """Whether a header is secret unless marked otherwise (Authorization, X-Api-Key, ...)."""
    return bool(_CREDENTIAL_NAME.search(name))


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


class HeaderSpec(BaseModel):
    """A header with its ``secret`` flag; a plain string value means the default flag."""

    model_config = ConfigDict(extra="forbid")

    value: StrictStr | None = Field(
        description="The value. null, in a change, keeps the value (and, unless `secret` is "
        "given, the flag) stored for this header."
    )
    secret: StrictBool | None = Field(
        None,
        description="Stored encrypted and never shown again. Default: true for "
        "Authorization, Cookie and names that look like a credential (key, token, secret, "
        "auth, session, password, signature); Authorization and Cookie are always secret.",
    )


def _header_spec(name: str, given: str | HeaderSpec) -> HeaderSpec:
    spec = given if isinstance(given, HeaderSpec) else HeaderSpec(value=given, secret=None)
    if spec.secret is False and name.lower() in ALWAYS_SECRET_HEADERS:
        raise ValueError(f"{name} holds a credential: it is always secret")
    if spec.value is None and spec.secret is None:
        return spec  # kept as stored, flag included (resolved by the change)
    secret = is_credential_name(name) if spec.secret is None else spec.secret
    return HeaderSpec(value=spec.value, secret=secret)


def _headers(given: dict[str, str | HeaderSpec]) -> dict[str, HeaderSpec]:
    values: dict[str, HeaderSpec] = {}
    seen: set[str] = set()
    for name, spec in given.items():
        if not _HEADER_NAME.fullmatch(name):
            shown = name[:40] + ("…" if len(name) > 40 else "")
            raise ValueError(f"{shown!r} is not a header name (letters, digits, - and a few signs)")
        lowered = name.lower()
        if lowered in RESERVED_HEADERS or lowered.startswith("webhook-"):
            raise ValueError(f"{name} is set by syndicator or the connection, not by a partner")
        if lowered in seen:
            raise ValueError(f"{name} is given twice (header names ignore case)")
        seen.add(lowered)
        values[name] = _header_spec(name, spec)
        value = values[name].value or ""
        if len(value) > MAX_HEADER_VALUE_CHARS:
            raise ValueError(f"the value of {name} is longer than {MAX_HEADER_VALUE_CHARS}")
        if _CONTROL.search(value):
            raise ValueError(f"the value of {name} contains control characters")
    return values


def _values_given(values: dict[str, HeaderSpec]) -> dict[str, HeaderSpec]:
    """A new partner has no stored value to keep."""
    for name, spec in values.items():
        if spec.value is None:
            raise ValueError(f"{name} needs a value (null keeps a stored one, in a change)")
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
    dict[StrictStr, StrictStr | HeaderSpec],
    Field(max_length=MAX_HEADERS),
    AfterValidator(_headers),
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


def _contact(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not an email address: {exc}") from None


ContactEmail = Annotated[
    StrictStr, StringConstraints(strip_whitespace=True, max_length=320), AfterValidator(_contact)
]

# v1: HMAC-SHA256 with a shared whsec_ secret; ed25519: Standard Webhooks v1a, the partner
# holding only the public key.
SignatureScheme = Literal["v1", "ed25519"]

_DOC = {
    "signature_scheme": "How deliveries are signed: `v1` (HMAC-SHA256 with a shared "
    "`whsec_` secret, the default) or `ed25519` (Standard Webhooks `v1a`: the partner "
    "verifies with a public key, `whpk_…`, and no secret is shared).",
    "contact_email": "The partner's registered contact: a fresh portal link is mailed "
    "here when the partner asks for one; null: none.",
    "name": "Shown to operators, e.g. 연합뉴스.",
    "url": "Where deliveries are POSTed: http(s), a public address (the SSRF guard).",
    "event_types": "Types to receive; absent or null: every type.",
    "headers": "Extra request headers, e.g. an API key the partner expects: a value, or "
    '{"value": ..., "secret": true} for a credential (stored encrypted, never shown again).',
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
                    "headers": {
                        "X-Env": "prod",
                        "Authorization": {"value": "Bearer partner-api-key", "secret": True},
                    },
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
    headers: Annotated[Headers, AfterValidator(_values_given)] = Field(
        default_factory=dict, description=_DOC["headers"]
    )
    rate_limit_per_s: RateLimit | None = Field(None, description=_DOC["rate_limit_per_s"])
    max_in_flight: InFlight | None = Field(None, description=_DOC["max_in_flight"])
    departments: Topics = Field(default_factory=list, description=_DOC["departments"])
    categories: Topics = Field(default_factory=list, description=_DOC["categories"])
    signature_scheme: SignatureScheme = Field("v1", description=_DOC["signature_scheme"])
    contact_email: ContactEmail | None = Field(None, description=_DOC["contact_email"])


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
    contact_email: ContactEmail | None = Field(None, description=_DOC["contact_email"])
    signature_scheme: Literal["ed25519"] | None = Field(
        None,
        description=_DOC["signature_scheme"]
        + " Changing to `ed25519` makes a new key pair; the previous key keeps signing for "
        "the grace period. Back to `v1`: rotate the secret with the scheme, which shows the "
        "new secret once.",
    )

    @field_validator("name", "url", "signature_scheme", mode="before")
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
    scheme: SignatureScheme
    public_key: str | None = Field(
        description="whpk_…: what the partner verifies `v1a` signatures with (ed25519 only)."
    )
    created_at: datetime
    expires_at: datetime | None = Field(
        description="After a rotation the old key signs alongside the new one until then."
    )


class HeaderView(BaseModel):
    value: str | None = Field(description="null for a secret header: it is never shown.")
    secret: bool


class PartnerView(BaseModel):
    id: int
    name: str
    url: str
    event_types: list[str] | None
    headers: dict[str, HeaderView]
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
    signature_scheme: SignatureScheme = Field(description=_DOC["signature_scheme"])
    contact_email: str | None = Field(description=_DOC["contact_email"])
    public_key: str | None = Field(
        description="whpk_…: the newest Ed25519 public key, to give the partner (ed25519)."
    )
    signing_keys: list[SigningKey]


class NewSecret(BaseModel):
    partner: PartnerView
    secret: str | None = Field(
        description="whsec_…: shown only this once; null for ed25519, whose private key "
        "never leaves syndicator (give the partner `public_key`)."
    )


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
                    SigningKey(
                        scheme="v1" if k.public_key is None else "ed25519",
                        public_key=k.public_key,
                        created_at=k.created_at,
                        expires_at=k.expires_at,
                    )
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
        headers={
            str(name): HeaderView(value=None if value is None else str(value), secret=value is None)
            for name, value in (partner.headers or {}).items()
        },
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
        signature_scheme=cast(SignatureScheme, partner.signature_scheme),
        contact_email=partner.contact_email,
        public_key=next((k.public_key for k in keys if k.public_key is not None), None),
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


def _specs(headers: dict[str, str | HeaderSpec]) -> dict[str, HeaderSpec]:
    """Validated headers are specs already (``_headers``); this says so to the type checker."""
    return cast(dict[str, HeaderSpec], headers)


def _store_headers(
    partner: Partner, specs: dict[str, HeaderSpec], kept: dict[str, str], ring: Keyring
) -> None:
    """Headers as stored: every name in ``headers``, the secret ones' values null there and
    sealed in ``secret_headers``. ``kept`` holds the current values, for null ones."""
    listed: dict[str, str | None] = {}
    hidden: dict[str, str] = {}
    for name, spec in specs.items():
        value = spec.value if spec.value is not None else kept[name]
        if spec.secret:
            listed[name], hidden[name] = None, value
        else:
            listed[name] = value
    partner.headers = listed
    partner.secret_headers = ring.seal(json.dumps(hidden)) if hidden else None


def _kept_headers(
    partner: Partner, specs: dict[str, HeaderSpec], ring: Keyring
) -> tuple[dict[str, HeaderSpec], dict[str, str]]:
    """A change's headers with the kept ones (value null) resolved: their flag, if not
    given, is the stored one, and their stored values (opened only if one is secret). A
    secret value cannot be kept as a plain one: the API would then show it."""
    keep = [name for name, spec in specs.items() if spec.value is None]
    if not keep:
        return specs, {}
    stored = dict(partner.headers or {})
    errors, resolved = [], dict(specs)
    for name in keep:
        if name not in stored:
            errors.append(f"{name} has no stored value to keep; give one")
            continue
        was_secret = stored[name] is None
        if resolved[name].secret is None:
            resolved[name] = HeaderSpec(value=None, secret=was_secret)
        elif was_secret and not resolved[name].secret:
            errors.append(f"{name} is secret: give its value again to store it unsecret")
    if errors:
        raise InvalidPartner([{"field": "headers", "reason": e} for e in errors])
    current = {k: str(v) for k, v in stored.items() if v is not None}
    if any(stored[name] is None for name in keep) and partner.secret_headers is not None:
        try:
            current |= json.loads(ring.open(partner.secret_headers))
        except UnreadableSecret as exc:
            reason = f"the stored secret values cannot be read ({exc}); give them again"
            raise InvalidPartner([{"field": "headers", "reason": reason}]) from None
    lost = [f"{name} has no stored value to keep; give one" for name in keep if name not in current]
    if lost:
        raise InvalidPartner([{"field": "headers", "reason": e} for e in lost])
    return resolved, current


def create(
    db: Database,
    spec: PartnerSpec,
    who: str,
    allowed_networks: Sequence[str] = (),
    resolve: Resolve | None = None,
    *,
    ring: Keyring,
) -> NewSecret:
    """Register a partner with a new signing key; the key is returned only here."""
    _check_reachable(spec.url, allowed_networks, resolve)
    now = utcnow()
    with db.session() as session:
        partner = Partner(
            **spec.model_dump(mode="json", exclude={"headers"}),
            state="active",
            created_at=now,
            updated_at=now,
        )
        _store_headers(partner, _specs(spec.headers), {}, ring)
        session.add(partner)
        session.flush()
        secret = _add_key(session, partner, now, ring)
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
    *,
    ring: Keyring,
    grace: timedelta = timedelta(hours=24),
) -> PartnerView:
    """Only the fields given change. A change of scheme (to ed25519) makes a new key pair
    and keeps the keys in use signing for ``grace``."""
    changes = patch.model_dump(
        mode="json", exclude_unset=True, exclude={"headers", "signature_scheme"}
    )
    if "url" in changes:
        _check_reachable(changes["url"], allowed_networks, resolve)
    for field in ("departments", "categories"):
        if field in changes and changes[field] is None:
            changes[field] = []
    with db.session() as session:
        partner = _live(session, partner_id, lock=True)
        if "headers" in patch.model_fields_set:
            specs, kept = _kept_headers(partner, _specs(patch.headers or {}), ring)
            _store_headers(partner, specs, kept, ring)
        for field, value in changes.items():
            setattr(partner, field, value)
        scheme = patch.signature_scheme
        if scheme is not None and scheme != partner.signature_scheme:
            partner.signature_scheme = scheme
            _retire_keys(session, partner_id, utcnow(), grace)
            _add_key(session, partner, utcnow(), ring)
        partner.updated_at = utcnow()
        detail = f"fields: {_fields(list(patch.model_fields_set))}"
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
        partner.secret_headers = None
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


def _add_key(session: Session, partner: Partner, now: datetime, ring: Keyring) -> str | None:
    """A new signing key in the partner's scheme, sealed; returns the secret to show once
    (None for ed25519: its private key is never shown, the view carries its public key)."""
    if partner.signature_scheme == "ed25519":
        private = generate_signing_key()
        session.add(
            PartnerSecret(
                partner_id=partner.id,
                secret=ring.seal(private),
                public_key=public_key(private),
                created_at=now,
            )
        )
        return None
    secret = generate_secret()
    session.add(PartnerSecret(partner_id=partner.id, secret=ring.seal(secret), created_at=now))
    return secret


def _retire_keys(session: Session, partner_id: int, now: datetime, grace: timedelta) -> datetime:
    """The keys in use sign until ``now + grace``; long-expired ones are deleted."""
    retire_at = now + grace
    keys = session.scalars(select(PartnerSecret).where(PartnerSecret.partner_id == partner_id))
    for key in keys:
        if key.expires_at is not None and key.expires_at <= now:
            session.delete(key)  # long out of use: nothing signs with it any more
        elif key.expires_at is None or key.expires_at > retire_at:
            key.expires_at = retire_at
    return retire_at


def rotate_secret(
    db: Database,
    partner_id: int,
    grace: timedelta,
    who: str,
    *,
    ring: Keyring,
    scheme: SignatureScheme | None = None,
) -> NewSecret:
    """A new signing key (in ``scheme``, which becomes the partner's, if given); the keys
    in use keep signing alongside it for ``grace``, whatever their scheme."""
    with db.session() as session:
        partner = _live(session, partner_id, lock=True)
        now = utcnow()
        retire_at = _retire_keys(session, partner_id, now, grace)
        if scheme is not None:
            partner.signature_scheme = scheme
        secret = _add_key(session, partner, now, ring)
        partner.updated_at = now
        detail = (
            f"new {partner.signature_scheme} signing key; the previous ones sign until "
            f"{retire_at.isoformat()}"
        )
        write_audit(session, who, "partner-rotate-secret", partner_target(partner_id), detail)
        return NewSecret(partner=_view(session, partner), secret=secret)

"""Tables. Times are stored as UTC and come back timezone-aware on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from syndicator.store.sealed import Sealed, SealedText

__all__ = [
    "AttemptTally",
    "AuditEntry",
    "Base",
    "ChannelPause",
    "Delivery",
    "DeliveryAttempt",
    "Event",
    "NewsletterSend",
    "OutboxEntry",
    "Partner",
    "PartnerSecret",
    "PublishedDocument",
    "Quarantine",
    "Release",
    "ReleaseCategory",
    "Subscriber",
    "SubscriberTopic",
    "Taxon",
    "TaxonAlias",
    "WorkerProcess",
    "partial_index",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """SQLite drops offsets; normalising to UTC keeps ordering and round trips exact."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The rows that hold back later rows of the same target and release (ledger/ordering.py).
ORDER_HOLDERS = "status IN ('pending', 'in_progress') AND release_id IS NOT NULL"


def partial_index(name: str, *columns: str, where: str) -> Index:
    """An index over the rows ``where`` holds, on SQLite and PostgreSQL alike."""
    return Index(name, *columns, sqlite_where=text(where), postgresql_where=text(where))


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Event(Base):
    """Every accepted hook, applied or not: the audit trail of what the CMS said. Also the
    events syndicator raises itself, which are about no release (``release_id`` None): a
    digest run (source ``digest``), a welcome mail (``subscription``) and an operator
    notice (``ops``)."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    release_id: Mapped[int | None] = mapped_column(Integer, index=True)
    source: Mapped[str] = mapped_column(String(20))  # hook | import | digest | subscription | ops
    outcome: Mapped[str] = mapped_column(String(20))  # applied | stale | unchanged
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]]
    # The raw body's SHA-256: a replayed webhook-id with other bytes means a sender bug.
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    mismatched_replays: Mapped[int] = mapped_column(default=0, server_default="0")


class Release(Base):
    """The current version of each release; events hold the history."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(Text)
    subtitle: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    department: Mapped[str] = mapped_column(String(200))
    department_slug: Mapped[str] = mapped_column(String(200))
    contact: Mapped[dict[str, Any] | None]
    categories: Mapped[list[Any]]
    url: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime]
    # published_at as first stored, never updated: the entry id's year comes from it, so an
    # update that corrects the date never gives readers a second entry.
    first_published_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    attachments: Mapped[list[Any]]
    license: Mapped[str] = mapped_column(String(50))
    views: Mapped[int | None]
    retracted_at: Mapped[datetime | None]
    # The CMS's reason, shown in the retraction notice; None when it gave none.
    retraction_reason: Mapped[str | None] = mapped_column(Text)
    last_event_id: Mapped[str] = mapped_column(String(40))

    __table_args__ = (
        Index("ix_releases_live", "retracted_at", "published_at", "id"),
        Index("ix_releases_published", "published_at", "id"),
        # A department's live feed is an index range, whatever the history size.
        Index(
            "ix_releases_department_live", "department_slug", "retracted_at", "published_at", "id"
        ),
    )


class Taxon(Base):
    """Stable ASCII slugs for departments and categories, fixed at first sight."""

    __tablename__ = "taxa"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # department | category
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint("kind", "name", name="uq_taxa_kind_name"),
        UniqueConstraint("kind", "slug", name="uq_taxa_kind_slug"),
    )


class TaxonAlias(Base):
    """A slug a taxon had before: its URLs answer 301 to the taxon's slug, for good."""

    __tablename__ = "taxon_aliases"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), primary_key=True)
    taxon_id: Mapped[int] = mapped_column(ForeignKey("taxa.id", ondelete="CASCADE"))


class ReleaseCategory(Base):
    __tablename__ = "release_categories"

    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True
    )
    slug: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Copied from the release so a category's newest entries are an index range.
    published_at: Mapped[datetime]

    __table_args__ = (Index("ix_release_categories_newest", "slug", "published_at", "release_id"),)


class OutboxEntry(Base):
    """Written in the intake transaction; the relay moves it to the broker."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    relayed_at: Mapped[datetime | None]
    # Set by the fan-out that planned the deliveries. A row relayed long ago but never
    # planned lost its message (BRPOP'd by a worker killed before it registered the
    # message as unacked, or Redis died before the AOF was synced): it is sent again.
    planned_at: Mapped[datetime | None]
    relay_attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The hook's W3C trace context, so the fan-out joins its trace (syndicator.tracing).
    traceparent: Mapped[str | None] = mapped_column(String(60))

    __table_args__ = (
        partial_index("ix_outbox_pending", "id", where="relayed_at IS NULL"),
        partial_index("ix_outbox_unplanned", "relayed_at", where="planned_at IS NULL"),
    )


class Delivery(Base):
    """One row per (event, channel, target): the unit that must happen exactly once."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(600), unique=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(500))
    # pending -> in_progress -> succeeded | failed (| pending again for a retry)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(40))
    # The worker process that took the claim (``worker_processes.id``; None: a claim taken
    # outside a worker, which only the lease ends). Kept after the claim ends: who tried last.
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    # What the next attempt is logged as: ``manual`` after an operator's replay or
    # recover (never retried by itself), back to ``scheduled`` once it is recorded.
    # (A server default only: bulk planning binds no extra parameter per row.)
    trigger: Mapped[str] = mapped_column(String(20), server_default="scheduled")
    # How many worker processes (or batches) in a row ended while holding this row, with
    # no outcome recorded: a struck row goes in smaller claims, and at ``POISON_STRIKES``
    # (ledger/poison.py) it is failed. An outcome or an operator's replay resets it.
    crashes: Mapped[int] = mapped_column(server_default=text("0"))
    # In-order channels (partner webhooks) only: the release this row's event is about,
    # and the event's place among that release's events (ledger/ordering.py). A row waits
    # while an earlier one for the same target and release is pending or in progress.
    release_id: Mapped[int | None]
    release_order: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_deliveries_work", "channel", "status", "next_attempt_at"),
        # The earlier rows a row of an in-order channel waits for: one seek per row.
        partial_index(
            "ix_deliveries_in_order",
            "channel",
            "target",
            "release_id",
            "release_order",
            where=ORDER_HOLDERS,
        ),
        Index("ix_deliveries_claim", "claim_token"),
        # One partner's or subscriber's deliveries, newest first, whatever the history size.
        Index("ix_deliveries_target", "channel", "target", "id"),
        # The oldest fresh row of a channel, for /metrics: one index seek per channel.
        partial_index(
            "ix_deliveries_fresh",
            "channel",
            "created_at",
            where="status = 'pending' AND next_attempt_at IS NULL",
        ),
        # The claims each worker holds now, for the sweeper: only rows in progress.
        partial_index("ix_deliveries_claimed_by", "claimed_by", where="status = 'in_progress'"),
    )


class DeliveryAttempt(Base):
    """One row per attempt: what the operators read when something failed."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"))
    number: Mapped[int]
    trigger: Mapped[str] = mapped_column(String(20), default="scheduled")
    started_at: Mapped[datetime]
    duration_ms: Mapped[float]
    # succeeded | retrying | failed | suppressed | uncertain
    outcome: Mapped[str] = mapped_column(String(20))
    error_class: Mapped[str | None] = mapped_column(String(80))
    detail: Mapped[str | None] = mapped_column(Text)
    # When the retry this attempt scheduled is due (None: no retry).
    next_attempt_at: Mapped[datetime | None]
    # The receiver's status (HTTP status, SMTP reply code; 0 on a network error), an
    # excerpt of its answer, where the attempt went, and the message's own id.
    status_code: Mapped[int | None]
    response: Mapped[str | None] = mapped_column(Text)
    endpoint: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (Index("ix_delivery_attempts_delivery", "delivery_id", "started_at"),)


class AttemptTally(Base):
    """Attempts recorded so far by channel, outcome and duration bucket (an index into
    ``syndicator.ledger.tallies.DURATION_BUCKETS``), counted in the transaction that records
    them: /metrics reads counters and histograms that survive restarts and attempt
    retention in one small query."""

    __tablename__ = "attempt_tallies"

    channel: Mapped[str] = mapped_column(String(40), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    attempts: Mapped[int] = mapped_column(BigInteger)
    duration_seconds: Mapped[float] = mapped_column(Float)


class Quarantine(Base):
    """A release one channel could not render or deliver: left out until it changes.

    One bad release must fail alone; the channel carries on with everything else, and
    the release's next update or retraction (or an operator) lifts the quarantine.
    """

    __tablename__ = "quarantine"

    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40))
    error_class: Mapped[str] = mapped_column(String(80))
    detail: Mapped[str] = mapped_column(Text)
    quarantined_at: Mapped[datetime] = mapped_column(default=utcnow)


class PublishedDocument(Base):
    """A rendered feed document, as every web node serves it.

    The database is the truth every process reaches, so a render on any host is served by
    every web node. ``version`` grows with each publish that changed the row: a web node
    asks for rows newer than the version it knows. A removed document keeps its row, with
    no body, so that removal is a change too.
    """

    __tablename__ = "published_documents"

    path: Mapped[str] = mapped_column(String(300), primary_key=True)  # under /feeds/
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(64))
    # Whole seconds; never earlier than the newest entry, and it steps forward when the
    # bytes change without a newer entry (so If-Modified-Since never hides new bytes).
    last_modified: Mapped[datetime]
    version: Mapped[int] = mapped_column(BigInteger, index=True)


class Subscriber(Base):
    """A resident on the mailing list. The ledger knows them only as ``subscriber:<id>``.

    Erasure empties every personal field and keeps the row (status ``erased``), so the
    ledger's references still point somewhere and nothing personal is left.
    """

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Lower-cased domain, as email-validator normalises it; None once erased.
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    # pending (not confirmed) | active | unsubscribed | suppressed (hard bounce) | erased
    status: Mapped[str] = mapped_column(String(20), default="pending")
    mode: Mapped[str] = mapped_column(String(10), default="immediate")  # | daily | weekly
    # No topics: every release. Otherwise the subscriber_topics rows say which.
    every_release: Mapped[bool] = mapped_column(Boolean, default=True)
    # double_opt_in | import (still must confirm) | import_consented
    consent: Mapped[str] = mapped_column(String(20), default="double_opt_in")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    suppressed_reason: Mapped[str | None] = mapped_column(Text)
    # Why and since when nothing is mailed: hard_bounce | soft_bounce | complaint | smtp
    # (a 5.1.x answer in the session); None while not suppressed.
    suppressed_kind: Mapped[str | None] = mapped_column(String(20))
    suppressed_at: Mapped[datetime | None]
    # The language of everything we write to this resident (ko | en); release text stays
    # as the CMS wrote it.
    language: Mapped[str] = mapped_column(String(8), default="ko", server_default="ko")
    # Digests: the last item sent (an outbox sequence number), moved in the transaction
    # that records the digest's delivery, so no item is missed or repeated.
    digest_marker: Mapped[int | None] = mapped_column(BigInteger)
    # In every preferences and unsubscribe token: bumped by unsubscribing, erasure and "send
    # me a new link", so every link mailed before stops working.
    links_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (Index("ix_subscribers_mailing", "status", "mode", "id"),)


class NewsletterCopy(Base):
    """The web copy of a newsletter or digest (``/newsletters/<id>``): what every
    recipient's message shares, nothing of any one of them (no address, no token).

    The id is an HMAC of the content's key (the release event; a digest's run and item
    numbers), so each copy is stored once, its URL is stable, and it cannot be guessed or
    enumerated (see :mod:`syndicator.mail.web_copies`)."""

    __tablename__ = "newsletter_copies"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # release | digest
    event_id: Mapped[str] = mapped_column(String(40))
    # release: {"correction", "releases": [the event's release]}; digest: {"mode",
    # "period", "releases": [...]}: the CMS's public release objects, as mailed.
    content: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MailFeedback(Base):
    """One bounce or complaint that came back for a message we sent, with its evidence.

    Rows are matched to a subscriber and a delivery through the message's VERP envelope
    sender, never through the report's body alone.
    """

    __tablename__ = "mail_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL")
    )
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(20))  # hard_bounce | soft_bounce | complaint
    # smtp (answered in the session) | pipe | imap | ses | postmark | mailgun | sendgrid
    source: Mapped[str] = mapped_column(String(20))
    status: Mapped[str | None] = mapped_column(String(20))  # enhanced code, e.g. 5.1.1
    diagnostic: Mapped[str | None] = mapped_column(Text)
    # The Message-ID of the message this answers, and an excerpt of the report itself.
    answered_message_id: Mapped[str | None] = mapped_column(String(300))
    evidence: Mapped[str | None] = mapped_column(Text)
    # The report's own identity (a provider's event id, the report's Message-ID): the same
    # report delivered twice is kept once.
    dedupe_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_mail_feedback_subscriber", "subscriber_id", "received_at"),
        Index("ix_mail_feedback_kind", "kind", "received_at"),
        Index("ix_mail_feedback_delivery", "delivery_id"),
    )


class NewsletterSend(Base):
    """Messages one newsletter (a release's or a digest's email event) handed to the mail
    server, counted in the transaction that records them: the denominator of its bounce
    and complaint rates, read without counting its ledger rows."""

    __tablename__ = "newsletter_sends"

    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    sent: Mapped[int] = mapped_column(Integer, default=0)
    first_sent_at: Mapped[datetime]
    # The 7-day window reads the newsletters sent lately by this.
    last_sent_at: Mapped[datetime] = mapped_column(index=True)


class SubscriptionRequest(Base):
    """What one subscribe request asked for, until it is confirmed: each confirmation link
    names its request, so confirming applies what that mail was sent for, and a second
    request for a pending address never rewrites the first."""

    __tablename__ = "subscription_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    mode: Mapped[str] = mapped_column(String(10))
    categories: Mapped[list[Any]] = mapped_column(JSON)
    departments: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubscriberTopic(Base):
    """One department or category (by name, which outlives slugs) a subscriber follows."""

    __tablename__ = "subscriber_topics"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # department | category
    name: Mapped[str] = mapped_column(String(200), primary_key=True)

    __table_args__ = (Index("ix_subscriber_topics_topic", "kind", "name", "subscriber_id"),)


class Partner(Base):
    """A partner endpoint; the ledger knows it as ``partner:<id>``."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    # None: every event type.
    event_types: Mapped[list[Any] | None]
    # Every extra header by name; a secret one (a credential) has the value null here and
    # its value sealed in ``secret_headers`` (a JSON object, encrypted).
    headers: Mapped[dict[str, Any]]
    secret_headers: Mapped[Sealed | None] = mapped_column(SealedText)
    rate_limit_per_s: Mapped[float | None] = mapped_column(Float)
    max_in_flight: Mapped[int | None]
    # Empty: every release.
    departments: Mapped[list[Any]]
    categories: Mapped[list[Any]]
    state: Mapped[str] = mapped_column(String(20), default="active")  # | disabled | deleted
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None]
    # The first failure since the last success: five days of only failures disables it.
    failing_since: Mapped[datetime | None]
    # v1 (HMAC, whsec_) | ed25519 (v1a, whsk_): the scheme new keys are made in.
    signature_scheme: Mapped[str] = mapped_column(String(20), default="v1", server_default="v1")
    # Where a fresh portal link is mailed when the partner asks for one (never shown there).
    contact_email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PartnerClientCert(Base):
    """A partner's client certificate for mutual TLS: the certificate as given (public),
    its private key sealed."""

    __tablename__ = "partner_client_certs"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), unique=True
    )
    certificate: Mapped[str] = mapped_column(Text)  # PEM, the chain as given
    key: Mapped[Sealed] = mapped_column(SealedText)  # PEM, unencrypted before sealing
    subject: Mapped[str] = mapped_column(Text)
    not_after: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PartnerSecret(Base):
    """A signing key. After a rotation the old one signs alongside until ``expires_at``."""

    __tablename__ = "partner_secrets"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    # whsec_<base64> (v1) or whsk_<base64 seed> (ed25519), sealed.
    secret: Mapped[Sealed] = mapped_column(SealedText)
    # whpk_<base64> for an Ed25519 key (not a secret: the partner is given it); else null.
    public_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]


class AuditEntry(Base):
    """One change or export of personal data, from the console, the API or the CLI: who,
    what, when, on what."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    who: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)


class ChannelPause(Base):
    """A paused channel: its rows stay pending and no claim takes them until resumed."""

    __tablename__ = "channel_pauses"

    channel: Mapped[str] = mapped_column(String(40), primary_key=True)
    paused_at: Mapped[datetime] = mapped_column(default=utcnow)
    paused_by: Mapped[str] = mapped_column(String(200))
    # Why, when syndicator paused it by itself (the complaint rate); None: an operator.
    reason: Mapped[str | None] = mapped_column(Text)


class WorkerProcess(Base):
    """A process that claims deliveries (a prefork child, or a solo worker), and its
    heartbeat. The id is random per process start, so a reused pid never revives a dead
    process's claims; ``process_key`` tells this host whether the process still runs."""

    __tablename__ = "worker_processes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    # boot id, pid namespace and start time of the process (see runtime/liveness.py).
    process_key: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Set by a clean exit: its claims were handed back, and it no longer counts as live.
    stopped_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A logged-in ops console session. The cookie holds a random token; this row holds
    only its SHA-256, so a copy of the database opens no session. ``token_mac`` is an
    HMAC of the admin token keyed with the session token: a session opened under another
    admin token no longer matches, and the row alone reveals nothing about either."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    who: Mapped[str] = mapped_column(String(100))
    token_mac: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

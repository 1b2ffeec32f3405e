"""`syndicator run` shows the secrets it generated, and never the operator's own."""

from __future__ import annotations

import stat
from pathlib import Path

from rich.console import Console

from syndicator.config import load_settings
from syndicator.runtime.launcher import _print_welcome, _publish_command, generated_secrets
from syndicator.store.sealed import Keyring, generate_key


def welcome(tmp_path: Path, environ: dict[str, str]) -> tuple[str, dict[str, str]]:
    env = {
        "SYNDICATOR_DATA_DIR": str(tmp_path / "var"),
        "SYNDICATOR_DATABASE_URL": "postgresql://app:db-s3cret@db:5432/syndicator",
        "SYNDICATOR_REDIS_URL": "redis://:redis-s3cret@redis:6379/0",
        **environ,
    }
    generated = generated_secrets(tmp_path / "var" / "secrets", env)
    console = Console(record=True, width=200)
    _print_welcome(console, load_settings({**env, **generated}), "http://web", False, generated)
    return console.export_text(), generated


def test_a_secret_from_the_environment_is_named_not_shown(tmp_path: Path) -> None:
    given = "whsec_R0VOVUlORS1PUEVSQVRPUi1TRUNSRVQ= whsec_b2xkLXNlY3JldA=="
    output, generated = welcome(tmp_path, {"SYNDICATOR_CMS_SECRET": given})
    assert "(from SYNDICATOR_CMS_SECRET)" in output
    assert all(part not in output for part in given.split())
    assert generated["SYNDICATOR_ADMIN_TOKEN"] in output  # ours, so shown
    assert (tmp_path / "var" / "secrets" / "admin_token").is_file()
    assert not (tmp_path / "var" / "secrets" / "cms_secret").exists()


def test_an_admin_token_from_the_environment_is_named_not_shown(tmp_path: Path) -> None:
    output, generated = welcome(tmp_path, {"SYNDICATOR_ADMIN_TOKEN": "operator-token-123"})
    assert "(from SYNDICATOR_ADMIN_TOKEN)" in output and "operator-token-123" not in output
    assert generated["SYNDICATOR_CMS_SECRET"].startswith("whsec_")
    assert generated["SYNDICATOR_CMS_SECRET"] in output


def test_a_generated_secret_is_shown_again_on_the_next_start(tmp_path: Path) -> None:
    _, first = welcome(tmp_path, {})
    output, second = welcome(tmp_path, {})
    assert first == second and first["SYNDICATOR_CMS_SECRET"] in output


def test_no_url_password_is_shown(tmp_path: Path) -> None:
    output, _ = welcome(tmp_path, {})
    assert "db-s3cret" not in output and "redis-s3cret" not in output
    assert "postgresql://app:***@db:5432/syndicator" in output
    assert "redis://:***@redis:6379/0" in output


def test_the_publish_hint_reaches_this_run(tmp_path: Path) -> None:
    env = {"SYNDICATOR_DATA_DIR": str(tmp_path)}
    assert _publish_command(load_settings(env), 8000) == "syndicator publish"
    assert _publish_command(load_settings(env, port=8011), 8011) == "syndicator publish --port 8011"
    public = load_settings({**env, "SYNDICATOR_BASE_URL": "https://press.example.kr"}, port=8011)
    assert _publish_command(public, 8011) == (
        "syndicator publish --url https://press.example.kr/hooks/cms"
    )


def test_the_embedded_default_keeps_a_private_encryption_key(tmp_path: Path) -> None:
    """`syndicator run` without SYNDICATOR_ENCRYPTION_KEYS: a key file, mode 0600, that
    every later command on the same data directory reads (and one given is never written)."""
    _, generated = welcome(tmp_path, {"SYNDICATOR_ENCRYPTION_KEYS": ""})
    key_file = tmp_path / "var" / "secrets" / "encryption_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    key = key_file.read_text().strip()
    assert generated["SYNDICATOR_ENCRYPTION_KEYS"] == key
    Keyring((key,))  # a valid Fernet key
    later = load_settings({"SYNDICATOR_DATA_DIR": str(tmp_path / "var")})
    assert later.encryption_keys == (key,)
    output, again = welcome(tmp_path, {"SYNDICATOR_ENCRYPTION_KEYS": ""})
    assert again["SYNDICATOR_ENCRYPTION_KEYS"] == key and key not in output  # never printed
    given = generate_key()
    _, ours = welcome(tmp_path / "other", {"SYNDICATOR_ENCRYPTION_KEYS": given})
    assert "SYNDICATOR_ENCRYPTION_KEYS" not in ours
    assert not (tmp_path / "other" / "var" / "secrets" / "encryption_key").exists()

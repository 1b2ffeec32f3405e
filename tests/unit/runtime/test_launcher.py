"""`syndicator run` shows the secrets it generated, and never the operator's own."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from syndicator.channels.registry import ALL_QUEUES, EVENTS_QUEUE
from syndicator.config import load_settings
from syndicator.runtime.launcher import (
    LOOPBACK_NETWORKS,
    _children,
    _print_welcome,
    _program,
    _publish_command,
    generated_secrets,
    with_generated,
)
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
    assert _publish_command(public, 8011, ".venv/bin/syndicator") == (
        ".venv/bin/syndicator publish --url https://press.example.kr/hooks/cms"
    )


@pytest.fixture
def venv_script(tmp_path: Path) -> Path:
    """A checkout with ``.venv/bin/syndicator``, as `make setup` leaves it."""
    script = tmp_path / "checkout" / ".venv" / "bin" / "syndicator"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    return script


def test_make_run_is_told_the_script_path_when_path_does_not_find_it(
    venv_script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run` starts .venv/bin/syndicator, which is not on PATH: the hint says so."""
    checkout = venv_script.parents[2]
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert _program(".venv/bin/syndicator", "/x/python", checkout) == ".venv/bin/syndicator"
    assert _program(str(venv_script), "/x/python", checkout) == ".venv/bin/syndicator"
    # From outside the checkout, the absolute path.
    elsewhere = checkout.parent / "elsewhere"
    assert _program(str(venv_script), "/x/python", elsewhere) == str(venv_script)


def test_the_bare_name_only_when_path_finds_this_very_script(
    venv_script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{venv_script.parent}{os.pathsep}/usr/bin")
    assert _program(str(venv_script), "/x/python", tmp_path) == "syndicator"
    other = tmp_path / "other" / "syndicator"
    other.parent.mkdir()
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    assert _program(str(other), "/x/python", tmp_path) == "other/syndicator"


def test_python_dash_m_is_told_with_its_interpreter(tmp_path: Path) -> None:
    python = tmp_path / ".venv" / "bin" / "python"
    main = "/src/syndicator/__main__.py"
    assert _program(main, str(python), tmp_path) == ".venv/bin/python -m syndicator"
    assert _program(main, "/usr/bin/python3", tmp_path) == "/usr/bin/python3 -m syndicator"
    spaced = tmp_path / "my checkout" / "python"
    assert _program(main, str(spaced), tmp_path) == "'my checkout/python' -m syndicator"


class CountingFile(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_the_banner_is_one_write_naming_the_mail_outbox_and_the_demo_allow_list(
    tmp_path: Path,
) -> None:
    """One write: a child's log line, written between two of ours, cannot split it."""
    env = {"SYNDICATOR_DATA_DIR": str(tmp_path / "var"), "SYNDICATOR_SMTP_URL": ""}
    out = CountingFile()
    console = Console(file=out, width=100)
    settings = load_settings(env)
    _print_welcome(console, settings, "http://web", True, {}, demo_loopback=True)
    text = out.getvalue()
    assert out.writes == 1
    assert f".eml files in {tmp_path / 'var' / 'outbox'}" in text
    assert "SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS=" + " ".join(LOOPBACK_NETWORKS) in text
    assert text.rstrip().endswith("Ctrl-C stops everything.")
    smtp = load_settings({**env, "SYNDICATOR_SMTP_URL": "smtp://u:pw-s3cret@mail.example:587"})
    out = CountingFile()
    _print_welcome(Console(file=out, width=100), smtp, "http://web", True, {})
    assert "SMTP smtp://u:***@mail.example:587" in out.getvalue()
    assert "pw-s3cret" not in out.getvalue() and "loopback" not in out.getvalue()


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


@pytest.mark.parametrize(
    "given",
    [{}, {"SYNDICATOR_CMS_SECRET": "whsec_b3BlcmF0b3I=", "SYNDICATOR_ADMIN_TOKEN": "op-token"}],
)
def test_the_run_s_settings_are_what_its_children_read(tmp_path: Path, given: dict) -> None:
    """`syndicator run` reads the environment once and adds what it generated; a child
    reading the environment it is given gets the same settings."""
    env = {"SYNDICATOR_DATA_DIR": str(tmp_path / "var"), **given}
    before = load_settings(env)
    generated = generated_secrets(tmp_path / "var" / "secrets", env)
    assert set(generated) == {
        "SYNDICATOR_CMS_SECRET",
        "SYNDICATOR_ADMIN_TOKEN",
        "SYNDICATOR_TOKEN_KEYS",
        "SYNDICATOR_ENCRYPTION_KEYS",
    } - set(given)
    assert with_generated(before, generated) == load_settings({**env, **generated})


@settings(max_examples=25, deadline=None)
@given(depth=st.integers(min_value=1, max_value=12), width=st.integers(min_value=40, max_value=120))
def test_no_banner_line_is_folded_however_long_its_path(depth: int, width: int) -> None:
    """A folded URL or path cannot be copied as it is: every line stays whole at any width."""
    data_dir = Path("/tmp").joinpath(*[f"long-directory-name-{i}" for i in range(depth)])
    db = f"sqlite:///{data_dir}/syndicator.db"
    env = {"SYNDICATOR_DATA_DIR": str(data_dir), "SYNDICATOR_DATABASE_URL": db}
    out = io.StringIO()
    _print_welcome(Console(file=out, width=width), load_settings(env), "http://web", True, {})
    lines = out.getvalue().splitlines()
    assert f"  Database       {db}" in lines
    assert any(line.startswith("  Mail ") and str(data_dir / "outbox") in line for line in lines)


def test_every_queue_is_consumed_and_webhooks_by_a_worker_of_their_own() -> None:
    workers = {
        child.name: child.command[child.command.index("-Q") + 1].split(",")
        for child in _children("127.0.0.1", 8000)
        if "worker" in child.command
    }
    assert set(workers) == {"worker", "webhooks"}
    assert {q for queues in workers.values() for q in queues} == set(ALL_QUEUES)
    # Only the webhooks worker takes partners' deliveries: nothing else holds its process.
    assert [name for name, queues in workers.items() if "webhooks" in queues] == ["webhooks"]
    # Fan-outs run in both, so neither a busy render nor a long batch holds one up.
    assert all(EVENTS_QUEUE in queues for queues in workers.values())

"""`syndicator bounces ingest`: the exit codes a mail server's pipe acts on (0 understood
or ignored on purpose, 75 keep it for later), JSON for scripts, many files at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from syndicator.bounces import verp
from syndicator.cli import app
from syndicator.config import load_settings
from syndicator.store.db import Database
from syndicator.store.models import Subscriber
from tests.bounce_reports import auto_reply, dsn
from tests.conftest import MigrateToHead
from tests.newsletter_support import add_subscriber

ENV = {
    "SYNDICATOR_TOKEN_KEYS": "test-token-key-new",
    "SYNDICATOR_BOUNCE_ADDRESS": "bounces@news.example.kr",
}


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrate_to_head: MigrateToHead
) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'syndicator.db'}"
    migrate_to_head(url)
    values = {**ENV, "SYNDICATOR_DATA_DIR": str(tmp_path / "var"), "SYNDICATOR_DATABASE_URL": url}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ORIGINAL_RECIPIENT", raising=False)
    monkeypatch.delenv("RECIPIENT", raising=False)
    return values


def _bounce(env: dict[str, str], address: str) -> tuple[int, bytes]:
    with Database(env["SYNDICATOR_DATABASE_URL"]) as db:
        sid = add_subscriber(db, address)
    sender = verp.envelope_sender(load_settings(env), 0, sid)
    assert sender is not None
    headers = f"Return-Path: <{sender}>\r\nTo: {address}\r\nMessage-ID: <m{sid}@x>\r\n\r\n"
    return sid, dsn(sender, address, headers.encode())


def _status(env: dict[str, str], sid: int) -> str:
    with Database(env["SYNDICATOR_DATABASE_URL"]) as db, db.session() as session:
        row = session.get(Subscriber, sid)
        assert row is not None
        return row.status


def test_help() -> None:
    result = CliRunner().invoke(app, ["bounces", "ingest", "--help"])
    assert result.exit_code == 0 and "EX_TEMPFAIL" in result.output


def test_a_bounce_on_stdin_is_recorded(env: dict[str, str]) -> None:
    sid, raw = _bounce(env, "gone@example.org")
    result = CliRunner().invoke(app, ["bounces", "ingest", "-"], input=raw)
    assert result.exit_code == 0, result.output
    assert "hard_bounce 5.1.1 -> recorded" in result.output
    assert _status(env, sid) == "suppressed"


def test_an_auto_reply_is_ignored_with_exit_0(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["bounces", "ingest"], input=auto_reply("x@example.org"))
    assert result.exit_code == 0, result.output
    assert "ignored (automatic reply" in result.output


def test_many_files_and_json(env: dict[str, str], tmp_path: Path) -> None:
    files, ids = [], []
    for n in range(3):
        sid, raw = _bounce(env, f"r{n}@example.org")
        path = tmp_path / f"{n}.eml"
        path.write_bytes(raw)
        files.append(str(path))
        ids.append(sid)
    (tmp_path / "ooo.eml").write_bytes(auto_reply("x@example.org"))
    files.append(str(tmp_path / "ooo.eml"))
    result = CliRunner().invoke(app, ["bounces", "ingest", "--json", *files])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [item["file"] for item in document] == files
    assert [f["subscriber_id"] for item in document[:3] for f in item["feedback"]] == ids
    assert {f["action"] for item in document[:3] for f in item["feedback"]} == {"suppressed"}
    assert document[3]["ignored"].startswith("automatic reply")


def test_a_database_that_is_down_keeps_the_mail(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, raw = _bounce(env, "gone@example.org")
    # Nothing listens on port 1: the connection is refused at once.
    monkeypatch.setenv("SYNDICATOR_DATABASE_URL", "postgresql://syndicator@127.0.0.1:1/none")
    result = CliRunner().invoke(app, ["bounces", "ingest", "-"], input=raw)
    assert result.exit_code == 75, result.output
    assert "kept for later" in result.output


def test_a_bad_setting_keeps_the_mail_too(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNDICATOR_SOFT_BOUNCE_LIMIT", "many")
    result = CliRunner().invoke(app, ["bounces", "ingest"], input=auto_reply("x@example.org"))
    assert result.exit_code == 75, result.output


def test_a_pipe_without_environment_reads_the_units_file(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid, raw = _bounce(env, "gone@example.org")
    units = tmp_path / "syndicator.env"
    units.write_text("".join(f"{name}={value}\n" for name, value in env.items()))
    for name in env:
        monkeypatch.delenv(name)
    command = ["bounces", "ingest", "--env-file", str(units), "-"]
    result = CliRunner().invoke(app, command, input=raw)
    assert result.exit_code == 0, result.output
    assert _status(env, sid) == "suppressed"


def test_an_unreadable_env_file_keeps_the_mail(env: dict[str, str], tmp_path: Path) -> None:
    command = ["bounces", "ingest", "--env-file", str(tmp_path / "missing.env"), "-"]
    result = CliRunner().invoke(app, command, input=auto_reply("x@example.org"))
    assert result.exit_code == 75, result.output
    assert "missing.env" in result.output

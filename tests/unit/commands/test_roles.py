"""`syndicator worker` and `syndicator beat`: they check the configuration, then become
Celery's own worker or beat; what they refuse, they refuse in one line, before Celery."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from syndicator.channels.registry import ALL_QUEUES
from syndicator.cli import app
from syndicator.store.migrate import upgrade

CELERY = [sys.executable, "-m", "celery", "-A", "workers.app"]


@pytest.fixture
def replaced(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The command lines the process would have become: exec is where a unit test stops."""
    calls: list[list[str]] = []
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append([path, *argv[1:]]))
    return calls


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    database = f"sqlite:///{tmp_path / 'roles.db'}"
    upgrade(database)
    monkeypatch.setenv("SYNDICATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SYNDICATOR_DATABASE_URL", database)
    monkeypatch.setenv("SYNDICATOR_REDIS_URL", redis_url)
    monkeypatch.setenv("SYNDICATOR_ENCRYPTION_KEYS", Fernet.generate_key().decode())


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_help(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_a_worker_becomes_celerys_worker_with_its_options_passed_on(
    configured: None, replaced: list[list[str]]
) -> None:
    result = CliRunner().invoke(
        app, ["worker", "-Q", "feeds, email", "-c", "3", "--hostname", "mail@%h"]
    )
    assert result.exit_code == 0, result.output
    assert replaced == [
        [
            *CELERY,
            "worker",
            "--loglevel",
            "INFO",
            "-Q",
            "feeds,email",
            "--concurrency",
            "3",
            "--hostname",
            "mail@%h",
        ]
    ]


def test_a_worker_consumes_every_queue_unless_told(
    configured: None, replaced: list[list[str]]
) -> None:
    assert CliRunner().invoke(app, ["worker"]).exit_code == 0
    ((*_, flag, queues),) = replaced
    assert (flag, queues.split(",")) == ("-Q", list(ALL_QUEUES))


def test_beat_becomes_celerys_beat(configured: None, replaced: list[list[str]]) -> None:
    result = CliRunner().invoke(app, ["beat", "--loglevel", "DEBUG"])
    assert result.exit_code == 0, result.output
    # Celery takes the last --loglevel: the operator's.
    assert replaced == [[*CELERY, "beat", "--loglevel", "INFO", "--loglevel", "DEBUG"]]


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-", min_size=1, max_size=12).filter(
            lambda name: name not in ALL_QUEUES
        ),
        min_size=1,
        max_size=3,
    ),
    known=st.lists(st.sampled_from(ALL_QUEUES), max_size=2),
)
def test_a_worker_refuses_a_queue_nothing_feeds(
    configured: None, replaced: list[list[str]], names: list[str], known: list[str]
) -> None:
    replaced.clear()
    result = CliRunner().invoke(app, ["worker", "-Q", ",".join([*known, *names])])
    assert result.exit_code == 2, result.output
    assert "--queues" in result.output and f"unknown queue {names[0]}" in result.output
    assert not replaced


def test_beat_without_redis_refuses_in_one_line(
    configured: None, replaced: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its lock lives in Redis: RedBeat would stop with a traceback instead."""
    monkeypatch.setenv("SYNDICATOR_REDIS_URL", "redis://127.0.0.1:1/0")
    result = CliRunner().invoke(app, ["beat"])
    assert result.exit_code == 1
    assert "cannot reach Redis" in result.output and "Traceback" not in result.output
    assert not replaced


def test_a_worker_before_migrate_refuses_and_names_the_fix(
    configured: None, replaced: list[list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNDICATOR_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 1
    assert "syndicator migrate" in result.output
    assert not replaced

"""Console sessions: signed, bound to the admin token, expiring; CSRF bound to the session."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicator.config import load_settings
from syndicator.web import console_auth
from syndicator.web.problems import Problem


def _settings(tmp_path: Path, token: str = "token-one"):
    return load_settings({"SYNDICATOR_DATA_DIR": str(tmp_path), "SYNDICATOR_ADMIN_TOKEN": token})


def test_a_session_reads_back_with_its_own_csrf_token(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    one = console_auth._from_session(settings, console_auth.new_session(settings, "김운영"))
    two = console_auth._from_session(settings, console_auth.new_session(settings, "김운영"))
    assert one is not None and two is not None
    assert one.who == "김운영" and one.via == "session"
    assert one.csrf and one.csrf != two.csrf  # bound to each session


def test_tampered_rotated_or_expired_sessions_are_refused(tmp_path: Path, monkeypatch) -> None:
    settings = _settings(tmp_path)
    cookie = console_auth.new_session(settings, "a")
    assert console_auth._from_session(settings, cookie[:-2] + "xx") is None
    assert console_auth._from_session(_settings(tmp_path, "token-two"), cookie) is None
    monkeypatch.setattr(console_auth, "SESSION_SECONDS", -1)
    assert console_auth._from_session(settings, cookie) is None


def test_without_an_admin_token_the_console_is_off(tmp_path: Path) -> None:
    settings = load_settings({"SYNDICATOR_DATA_DIR": str(tmp_path / "empty")})
    assert settings.admin_token is None
    with pytest.raises(Problem) as raised:
        console_auth.new_session(settings, "a")
    assert raised.value.status == 503

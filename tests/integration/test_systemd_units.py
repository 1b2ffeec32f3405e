"""deploy/systemd: units systemd accepts, running the same commands as compose."""

from __future__ import annotations

import shutil
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

import pytest

from syndicator.channels.registry import CHANNEL_QUEUES

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
VENV_BIN = "/opt/syndicator/venv/bin/"
ENV_FILE = "/etc/syndicator/syndicator.env"


def read_unit(path: Path) -> ConfigParser:
    parser = ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


def test_systemd_accepts_every_unit(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    for unit in UNITS.iterdir():
        text = unit.read_text(encoding="utf-8")
        # The programs this test environment has, at the paths a real install would use.
        text = text.replace(VENV_BIN, str(Path(sys.executable).parent) + "/")
        text = text.replace(ENV_FILE, str(UNITS / "syndicator.env.example"))
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    names = ["syndicator.target", "syndicator-web.service", "syndicator-beat.service"]
    names += ["syndicator-migrate.service"]
    names += [f"syndicator-worker@{queue}.service" for queue in CHANNEL_QUEUES]
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # verify exits 0 on some parse errors and only prints them: any output is a failure.
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_the_target_starts_a_worker_for_every_channel_queue() -> None:
    wants = read_unit(UNITS / "syndicator.target")["Unit"]["Wants"].split()
    prefix, suffix = "syndicator-worker@", ".service"
    workers = {w[len(prefix) : -len(suffix)] for w in wants if w.startswith(prefix)}
    assert workers == set(CHANNEL_QUEUES)


def test_every_long_running_unit_restarts_and_reads_the_one_environment_file() -> None:
    for name in ("syndicator-web.service", "syndicator-beat.service", "syndicator-worker@.service"):
        service = read_unit(UNITS / name)["Service"]
        assert service["Restart"] == "on-failure", name
        assert service["EnvironmentFile"] == ENV_FILE, name
        assert service["User"] == "syndicator", name

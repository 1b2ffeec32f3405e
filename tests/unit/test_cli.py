"""Every command documents itself."""

from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from syndicator import cli
from syndicator.cli import app
from syndicator.config import load_settings
from syndicator.store.migrate import upgrade
from syndicator.web.app import create_app

COMMANDS = [
    "run",
    "web",
    "migrate",
    "publish",
    "import",
    "status",
    "rebuild-feeds",
    "secret",
    "secret generate",
    "releases",
    "releases quarantined",
    "releases retry",
]


@pytest.mark.parametrize("command", [[], *(c.split() for c in COMMANDS)])
def test_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_import_rejects_a_bad_file_and_stores_nothing(tmp_path, monkeypatch) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "release.published", "release": {"id": 1}}', encoding="utf-8")
    monkeypatch.setenv("SYNDICATOR_DATA_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(app, ["import", str(bad)])
    assert result.exit_code == 2
    assert "nothing imported" in result.output and "release.title" in result.output
    assert not (tmp_path / "var" / "syndicator.db").exists()


def test_web_makes_links_from_its_own_port_without_a_base_url(tmp_path, monkeypatch) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(options, app=app))
    monkeypatch.setattr(cli, "configure_logging", lambda *_: None)
    monkeypatch.delenv("SYNDICATOR_BASE_URL", raising=False)
    monkeypatch.setenv("SYNDICATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SYNDICATOR_DATABASE_URL", f"sqlite:///{tmp_path / 'web.db'}")
    upgrade(f"sqlite:///{tmp_path / 'web.db'}")  # the web refuses to start before migrate
    result = CliRunner().invoke(app, ["web", "--host", "0.0.0.0", "--port", "8011"])
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"], served["factory"]) == ("0.0.0.0", 8011, True)
    # Every uvicorn worker process builds its app from the environment the command set.
    assert served["app"] == "syndicator.web.app:served_app"
    web_app = create_app(load_settings())
    assert web_app.state.syndicator.settings.base_url == "http://127.0.0.1:8011"


def _leaf_commands() -> list[tuple[str, Any]]:
    import typer.main

    def walk(group: Any, prefix: str) -> list[tuple[str, Any]]:
        found = []
        for name, command in group.commands.items():
            path = f"{prefix} {name}".strip()
            found += walk(command, path) if hasattr(command, "commands") else [(path, command)]
        return found

    return walk(typer.main.get_command(app), "")


# Commands that list things: named so, or the status report.
LISTING = {"status", "releases quarantined"}


@pytest.mark.parametrize(
    ("path", "command"),
    [(p, c) for p, c in _leaf_commands() if p in LISTING or p.endswith(" list")],
)
def test_every_list_command_has_a_documented_json_option(path: str, command: Any) -> None:
    options = {opt: param for param in command.params for opt in param.opts}
    assert "--json" in options, path
    assert "machine-readable JSON" in (options["--json"].help or ""), path
    shown = CliRunner().invoke(app, [*path.split(), "--help"], env={"COLUMNS": "200"})
    assert "--json" in shown.output and "machine-readable JSON" in shown.output


def test_the_listing_commands_are_found() -> None:
    """The test above cannot pass by finding nothing."""
    listed = {p for p, _ in _leaf_commands() if p in LISTING or p.endswith(" list")}
    assert {"partners list", "deliveries list", "subscribers list", "status"} <= listed

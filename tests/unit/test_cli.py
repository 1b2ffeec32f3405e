"""Every command documents itself."""

import pytest
from typer.testing import CliRunner

from syndicator.cli import app

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

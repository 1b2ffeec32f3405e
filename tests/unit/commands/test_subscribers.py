"""`syndicator subscribers …`: every command documents itself, and refuses what makes no
sense before it touches anything."""

import pytest
from typer.testing import CliRunner

from syndicator.cli import app


@pytest.mark.parametrize(
    "command", ["", "import", "list", "export", "erase", "unsuppress", "resend"]
)
def test_help(command: str) -> None:
    result = CliRunner().invoke(app, ["subscribers", *command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_consented_imports_need_no_confirmation_mail(tmp_path) -> None:
    file = tmp_path / "list.csv"
    file.write_text("a@example.org\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["subscribers", "import", str(file), "--consented", "--send-confirmations"]
    )
    assert result.exit_code == 2

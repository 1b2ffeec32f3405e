"""docs/security.md proves each claim by naming a test: every test it names must exist,
so the threat model cannot drift from the suite."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
NAMED = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:\[[^\]]*\])?`")


def named_tests(text: str) -> list[tuple[str, str]]:
    return NAMED.findall(text)


def test_the_threat_model_names_tests() -> None:
    assert len(named_tests(DOC.read_text(encoding="utf-8"))) >= 50


def test_every_test_the_threat_model_names_exists() -> None:
    missing = []
    for path, name in named_tests(DOC.read_text(encoding="utf-8")):
        source = ROOT / path
        defined = source.is_file() and re.search(
            rf"^\s*(async )?def {name}\(", source.read_text(encoding="utf-8"), re.MULTILINE
        )
        if not defined:
            missing.append(f"{path}::{name}")
    assert not missing, f"docs/security.md names tests that do not exist: {missing}"


def test_a_misspelt_name_is_found() -> None:
    assert named_tests("`tests/unit/test_x.py::test_y[sqlite]`") == [
        ("tests/unit/test_x.py", "test_y")
    ]

"""The chaos suite prints each scenario's figures at the end of the run, passed or not."""

from __future__ import annotations

from typing import Any

from tests.chaos.support import FIGURES, SCALE


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section(f"chaos figures (SYNDICATOR_CHAOS_SCALE={SCALE:g})")
        for line in FIGURES:
            terminalreporter.write_line(line)

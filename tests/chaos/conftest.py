"""The chaos suite prints each scenario's figures at the end of the run, passed or not.

A scenario appends its line to FIGURES in the process that runs it, an xdist worker under
`make test`; the report carries the line to the controller, which prints them all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.chaos.support import FIGURES, SCALE

_PRINTED: list[str] = []  # in the process that writes the terminal summary


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    while FIGURES:
        report.user_properties.append(("chaos figures", FIGURES.pop(0)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _PRINTED.extend(value for name, value in report.user_properties if name == "chaos figures")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _PRINTED:
        terminalreporter.section(f"chaos figures (SYNDICATOR_CHAOS_SCALE={SCALE:g})")
        for line in _PRINTED:
            terminalreporter.write_line(line)

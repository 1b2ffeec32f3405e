"""The commands' consoles judge the output's width at each use, not once at import."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.table import Table

from syndicator.commands.output import console

_WIDE = 400


def wide_table() -> Table:
    table = Table("name", "value")
    table.add_row("x" * _WIDE, "end-of-row")
    return table


@given(columns=st.integers(min_value=20, max_value=300))
def test_columns_set_before_a_piped_command_does_not_stick(columns: int) -> None:
    """One process may run commands under a COLUMNS and then without it (pytest does)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COLUMNS", str(columns))
        assert console.now().width == columns
        env.delenv("COLUMNS")
        now = console.now()
        with now.capture() as piped:  # pytest's stdout is not a terminal
            now.print(wide_table())
    assert "end-of-row" in piped.get()
    assert "x" * _WIDE in piped.get()

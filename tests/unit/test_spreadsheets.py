"""Every CSV cell is written so no spreadsheet runs it, and reads back to what it was."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from syndicator.spreadsheets import FORMULA_STARTS, SafeWriter, neutralise, restore

# Cells built to start with what spreadsheets run, with quotes, commas and line breaks
# inside so the csv module quotes them, and any other text besides.
_DANGEROUS = st.tuples(st.sampled_from((*FORMULA_STARTS, "'")), st.text()).map("".join)
_CELLS = st.one_of(_DANGEROUS, st.text(), st.text(alphabet="=+-@\t\r\n\",'; ab"))


@given(cell=_CELLS)
def test_no_cell_starts_like_a_formula_and_the_prefix_comes_off(cell: str) -> None:
    written = neutralise(cell)
    assert not written.startswith(FORMULA_STARTS)
    assert restore(written) == cell
    # Only what needs it is touched.
    assert written == cell or written == "'" + cell


@given(rows=st.lists(st.lists(_CELLS, min_size=1, max_size=6), min_size=1, max_size=8))
def test_a_written_csv_reads_back_cell_for_cell_apart_from_the_prefix(
    rows: list[list[str]],
) -> None:
    buffer = io.StringIO(newline="")
    writer = SafeWriter(buffer)
    for row in rows:
        writer.writerow(row)
    read = list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    assert len(read) == len(rows)
    for cells_read, cells in zip(read, rows, strict=True):
        # What a spreadsheet sees once the csv quoting is gone: never a formula.
        assert not any(c.startswith(FORMULA_STARTS) for c in cells_read)
        assert [restore(c) for c in cells_read] == cells


def test_the_owasp_examples() -> None:
    assert neutralise('=HYPERLINK("http://x","y")') == '\'=HYPERLINK("http://x","y")'
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("\t=1") == "'\t=1"
    assert neutralise("resident@example.org") == "resident@example.org"
    assert neutralise(None) == "" and neutralise(7) == "7"

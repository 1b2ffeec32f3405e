"""Every CSV the project writes, written so that no spreadsheet runs a cell as a formula.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula (or, for the last two, lets one through) by Excel, LibreOffice and Google Sheets,
and an address or a topic name is chosen by whoever subscribed. The OWASP rule: prefix
such a cell with ``'``, which spreadsheets show as text and drop from the value. The
prefix is added before the csv module quotes the cell, so a quoted cell is neutralised
too (a spreadsheet strips the quotes first, then reads what was inside).

A cell that already begins with ``'`` is prefixed as well, so :func:`restore` can undo the
prefix exactly: an export imports back unchanged (``-bob@example.org`` is a valid address).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

__all__ = ["FORMULA_STARTS", "SafeWriter", "neutralise", "restore"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PREFIXED = (*FORMULA_STARTS, "'")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def neutralise(cell: object) -> str:
    """The cell as text, with ``'`` in front when a spreadsheet would run it."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(_PREFIXED) else text


def restore(cell: str) -> str:
    """What :func:`neutralise` was given: its prefix removed, any other cell unchanged."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_PREFIXED) else cell


class SafeWriter:
    """``csv.writer`` whose every cell goes through :func:`neutralise`."""

    def __init__(self, target: _Writable) -> None:
        self._writer = csv.writer(target)

    def writerow(self, cells: Iterable[object]) -> None:
        self._writer.writerow([neutralise(cell) for cell in cells])

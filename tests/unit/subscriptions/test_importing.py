"""Reading import rows: line numbers, headers, bad rows that do not stop the rest."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from syndicator.subscriptions.importing import BadRow, ImportRow, parse_rows
from syndicator.subscriptions.preferences import Preferences


def _parse(text: str) -> list[ImportRow | BadRow]:
    return list(parse_rows(io.StringIO(text, newline="")))


def test_a_header_names_the_columns_and_extra_columns_are_ignored() -> None:
    rows = _parse("\ufeffEmail,departments,mode,id\nA@Example.ORG,위생정책과;복지정책과,weekly,7\n")
    assert rows == [
        ImportRow(2, "A@example.org", Preferences("weekly", (), ("위생정책과", "복지정책과")))
    ]


def test_without_a_header_the_columns_are_in_the_documented_order() -> None:
    rows = _parse("a@example.org,daily,경제; 복지 ;,\nb@example.org\n")
    assert rows == [
        ImportRow(1, "a@example.org", Preferences("daily", ("경제", "복지"))),
        ImportRow(2, "b@example.org", Preferences()),
    ]


def test_bad_rows_carry_their_line_numbers_and_the_rest_goes_on() -> None:
    text = (
        "email,mode,categories,departments\n"
        "bad,daily,,\n"
        '"quoted\nacross lines@example.org",daily,,\n'
        "c@example.org,monthly,,\n"
        "\n"
        "d@example.org,daily,,,extra\n"
        "e@example.org,,,\n"
    )
    rows = _parse(text)
    assert [(type(r).__name__, r.line) for r in rows] == [
        ("BadRow", 2),
        ("BadRow", 4),  # a record ending on line 4
        ("BadRow", 5),
        ("BadRow", 7),
        ("ImportRow", 8),
    ]
    assert isinstance(rows[2], BadRow) and rows[2].reason.startswith("mode:")


@given(st.lists(st.text(max_size=40), max_size=30))
def test_any_text_gives_rows_or_bad_rows_never_an_error(lines: list[str]) -> None:
    for row in _parse("\n".join(lines)):
        assert isinstance(row, ImportRow | BadRow)
        assert row.line >= 1

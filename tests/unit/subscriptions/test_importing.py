"""Reading import rows: line numbers, headers, bad rows that do not stop the rest; and the
import loop: a chunk per transaction, bad rows reported, repeats counted."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from syndicator.store.db import Database
from syndicator.store.models import AuditEntry, Subscriber
from syndicator.subscriptions.importing import BadRow, ImportRow, import_rows, parse_rows
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


def _rows(text: str) -> Iterator[ImportRow | BadRow]:
    return parse_rows(io.StringIO(text, newline=""))


def test_rows_are_imported_a_chunk_per_transaction(db: Database) -> None:
    text = "".join(f"p{n}@example.org,daily,,\n" for n in range(7))
    flushed: list[int] = []

    def count() -> None:
        with db.session() as session:
            flushed.append(len(session.scalars(select(Subscriber.id)).all()))

    totals = import_rows(
        db, _rows(text), consented=False, who="cli:test", chunk=3, on_flushed=count
    )
    assert flushed == [3, 6, 7]  # each chunk committed before the next was read
    assert len(totals.inserted_ids) == 7 and totals.bad_rows == 0
    with db.session() as session:
        audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "import")).all()
        statuses = set(session.scalars(select(Subscriber.status)))
    assert len(audits) == 3 and statuses == {"pending"}


def test_bad_rows_are_reported_in_order_and_the_rest_imported(db: Database) -> None:
    text = "a@example.org,daily,,\nbad,,,\nb@example.org,never,,\nc@example.org,,,\n"
    reported: list[int] = []
    totals = import_rows(
        db,
        _rows(text),
        consented=True,
        who="cli:test",
        chunk=2,
        on_bad=lambda row: reported.append(row.line),
    )
    assert reported == [2, 3] and totals.bad_rows == 2
    assert len(totals.inserted_ids) == 2


def test_repeats_in_a_chunk_and_across_chunks_are_counted_and_kept_once(db: Database) -> None:
    text = "a@example.org,weekly,,\na@example.org,daily,,\nb@example.org,,,\na@example.org,,,\n"
    totals = import_rows(db, _rows(text), consented=True, who="cli:test", chunk=3)
    assert len(totals.inserted_ids) == 2
    assert totals.duplicates_in_file == 1 and totals.already_present == 1
    with db.session() as session:
        mode = session.scalar(select(Subscriber.mode).where(Subscriber.email == "a@example.org"))
    assert mode == "weekly"  # the first line wins


def test_a_reading_error_keeps_the_chunks_committed_before_it(db: Database) -> None:
    def rows() -> Iterator[ImportRow | BadRow]:
        yield from _rows("a@example.org,,,\nb@example.org,,,\nc@example.org,,,\n")
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    with pytest.raises(UnicodeDecodeError):
        import_rows(db, rows(), consented=True, who="cli:test", chunk=2)
    with db.session() as session:
        assert sorted(session.scalars(select(Subscriber.email))) == [
            "a@example.org",
            "b@example.org",
        ]

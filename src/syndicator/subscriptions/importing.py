"""Reading ``email,mode,categories,departments`` rows and inserting them in chunks.

Parsing is a generator over lines, so a file of any size is never held whole; each bad
row is reported with its line number and the import carries on. Addresses already on the
list are left exactly as they are: an import never resubscribes someone who left.
Each chunk is audited in its own transaction, with counts only.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Insert, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from syndicator.spreadsheets import restore
from syndicator.store.audit import write_audit
from syndicator.store.db import Database
from syndicator.store.models import Subscriber, SubscriberTopic, utcnow
from syndicator.store.taxonomy import KnownTopics
from syndicator.subscriptions.addresses import InvalidAddress, normalise_address
from syndicator.subscriptions.preferences import (
    InvalidPreference,
    Preferences,
    clean_mode,
    clean_topics,
    unknown_topics,
)

__all__ = [
    "COLUMNS",
    "BadRow",
    "ChunkResult",
    "ImportRow",
    "ImportTotals",
    "import_chunk",
    "import_rows",
    "parse_rows",
]

COLUMNS = ("email", "mode", "categories", "departments")


@dataclass(frozen=True)
class ImportRow:
    line: int
    address: str
    prefs: Preferences


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


def _split(cell: str | None) -> list[str]:
    return [part for part in (cell or "").split(";") if part.strip()]


def _row(line: int, cells: dict[str, str | None], known: KnownTopics | None) -> ImportRow | BadRow:
    try:
        address = normalise_address(cells.get("email") or "")
        prefs = Preferences(
            mode=clean_mode((cells.get("mode") or "").strip()),
            categories=clean_topics("categories", _split(cells.get("categories"))),
            departments=clean_topics("departments", _split(cells.get("departments"))),
        )
    except InvalidAddress as exc:
        return BadRow(line, f"email: {exc.reason}")
    except InvalidPreference as exc:
        return BadRow(line, f"{exc.field}: {exc.reason}")
    for error in unknown_topics(prefs, known) if known is not None else ():
        return BadRow(line, f"{error.field}: {error.reason}")
    return ImportRow(line, address, prefs)


def parse_rows(
    lines: Iterable[str], known: KnownTopics | None = None
) -> Iterator[ImportRow | BadRow]:
    """Rows in file order. A first line starting with ``email`` is a header naming the
    columns (others are ignored, so an export imports back); without one the columns are
    ``email,mode,categories,departments``. A cell :mod:`syndicator.spreadsheets` prefixed
    is read as it was before. With ``known``, a row naming a department or category no
    release has used is a bad row."""
    reader = csv.reader(lines)
    columns: Sequence[str] = COLUMNS
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a runaway quote, a field past the size limit
            yield BadRow(reader.line_num, f"not CSV: {exc}")
            continue
        line = reader.line_num
        if line == 1 and cells and cells[0].strip().lstrip("\ufeff").lower() == "email":
            columns = [c.strip().lstrip("\ufeff").lower() for c in cells]
            continue
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are not rows
        if len(cells) > len(columns):
            yield BadRow(line, f"{len(cells)} columns, expected at most {len(columns)}")
            continue
        # An export prefixed cells a spreadsheet would run: take the prefix off again.
        yield _row(line, dict(zip(columns, map(restore, cells), strict=False)), known)


@dataclass
class ChunkResult:
    inserted_ids: list[int] = field(default_factory=list)
    already_present: int = 0
    duplicates_in_file: int = 0


def _insert_new(session: Session) -> Insert:
    table = Subscriber.__table__
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).on_conflict_do_nothing(index_elements=["email"])
    return statement.returning(table.c.id, table.c.email)


def import_chunk(
    session: Session, rows: Sequence[ImportRow], consented: bool, who: str
) -> ChunkResult:
    """Insert the addresses not on the list yet (one statement), then their topics, and
    audit the chunk in the same transaction."""
    result = _insert_chunk(session, rows, consented)
    detail = (
        f"{len(result.inserted_ids)} added ({'consented' if consented else 'pending'}), "
        f"{result.already_present} already on the list, "
        f"{result.duplicates_in_file} repeated, of {len(rows)} rows"
    )
    write_audit(session, who, "import", "subscribers", detail)
    return result


def _insert_chunk(session: Session, rows: Sequence[ImportRow], consented: bool) -> ChunkResult:
    result = ChunkResult()
    unique: dict[str, ImportRow] = {}
    for row in rows:
        if row.address in unique:
            result.duplicates_in_file += 1
            continue  # the first line wins, as it does across chunks
        unique[row.address] = row
    if not unique:
        return result
    now = utcnow()
    values = [
        {
            "email": row.address,
            "status": "active" if consented else "pending",
            "mode": row.prefs.mode,
            "every_release": row.prefs.every_release,
            "consent": "import_consented" if consented else "import",
            "created_at": now,
            "updated_at": now,
            "confirmed_at": now if consented else None,
        }
        for row in unique.values()
    ]
    inserted = dict(
        (email, subscriber_id)
        for subscriber_id, email in session.execute(_insert_new(session), values)
    )
    result.inserted_ids = sorted(inserted.values())
    result.already_present = len(unique) - len(inserted)
    topics = [
        {"subscriber_id": subscriber_id, "kind": kind, "name": name}
        for email, subscriber_id in inserted.items()
        for kind, names in (
            ("category", unique[email].prefs.categories),
            ("department", unique[email].prefs.departments),
        )
        for name in names
    ]
    if topics:
        session.execute(insert(SubscriberTopic), topics)
    return result


@dataclass
class ImportTotals:
    inserted_ids: list[int] = field(default_factory=list)
    already_present: int = 0
    duplicates_in_file: int = 0
    bad_rows: int = 0


def import_rows(
    db: Database,
    rows: Iterable[ImportRow | BadRow],
    *,
    consented: bool,
    who: str,
    chunk: int = 1000,
    on_bad: Callable[[BadRow], None] = lambda row: None,
    on_flushed: Callable[[], None] = lambda: None,
) -> ImportTotals:
    """Import ``rows`` (as :func:`parse_rows` yields them) a chunk per transaction.

    Each bad row is counted and handed to ``on_bad``; ``on_flushed`` is called after each
    chunk commits, so a caller can show progress. If reading ``rows`` raises, the chunks
    committed before stay and the rows read since are not imported."""
    totals = ImportTotals()
    pending: list[ImportRow] = []

    def flush() -> None:
        with db.session() as session:
            result = import_chunk(session, pending, consented, who)
        totals.inserted_ids.extend(result.inserted_ids)
        totals.already_present += result.already_present
        totals.duplicates_in_file += result.duplicates_in_file
        pending.clear()
        on_flushed()

    for row in rows:
        if isinstance(row, ImportRow):
            pending.append(row)
        else:
            totals.bad_rows += 1
            on_bad(row)
        if len(pending) >= chunk:
            flush()
    if pending:
        flush()
    return totals

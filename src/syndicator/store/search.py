"""The release search index: FTS5 on SQLite, a GIN-indexed tsvector on PostgreSQL.

Both hold the terms of :mod:`syndicator.store.search_terms` (Hangul bigrams), made in
Python so the two databases find the same releases whatever their locale or parser.
Titles weigh more than bodies. The table is created by migration 0008, not the models,
because its shape differs per database; intake keeps it current in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from syndicator.store.search_terms import QueryTerm, document_terms, plain_text, query_terms

__all__ = [
    "SEARCH_TABLE",
    "delete_from_index",
    "index_release",
    "index_values",
    "search_page",
]

SEARCH_TABLE = "release_search"
# bm25 column weights (title, body) and the matching tsvector weights (A, B).
_TITLE_WEIGHT, _BODY_WEIGHT = 4.0, 1.0
# About 10 bytes a bigram lexeme in a tsvector: 50,000 stay well under its 1 MB limit.
_MAX_LEXEMES = 50_000


def _is_sqlite(bind: Session | Connection) -> bool:
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    return dialect.name == "sqlite"


def index_values(release_id: int, title: str, subtitle: str | None, body_html: str) -> dict:
    """The row for one release: its title (with subtitle) terms and body terms."""
    heading = f"{title} {subtitle or ''}"
    return {
        "id": release_id,
        "title_terms": document_terms(heading),
        "body_terms": document_terms(plain_text(body_html)),
    }


def delete_from_index(bind: Session | Connection, release_id: int) -> None:
    key = "rowid" if _is_sqlite(bind) else "release_id"
    bind.execute(text(f"DELETE FROM {SEARCH_TABLE} WHERE {key} = :id"), {"id": release_id})


def _insert(bind: Session | Connection, values: dict) -> None:
    if _is_sqlite(bind):
        bind.execute(
            text(f"INSERT INTO {SEARCH_TABLE} (rowid, title, body) VALUES (:id, :title, :body)"),
            {
                "id": values["id"],
                "title": " ".join(values["title_terms"]),
                "body": " ".join(values["body_terms"]),
            },
        )
        return
    # array_to_tsvector takes lexemes as given: no parser, no locale, no stemming.
    bind.execute(
        text(
            f"INSERT INTO {SEARCH_TABLE} (release_id, document) VALUES (:id,"
            " setweight(array_to_tsvector(CAST(:title AS text[])), 'A')"
            " || setweight(array_to_tsvector(CAST(:body AS text[])), 'B'))"
        ),
        {
            "id": values["id"],
            "title": _first_distinct(values["title_terms"], set()),
            "body": _first_distinct(values["body_terms"], set(values["title_terms"])),
        },
    )


def _first_distinct(terms: Sequence[str], skip: set[str]) -> list[str]:
    """Each term once, in order of first use, at most _MAX_LEXEMES: a tsvector holds 1 MB,
    and a 900,000-character body of varied Hangul has more distinct bigrams than that."""
    seen: dict[str, None] = {}
    for term in terms:
        if term not in skip:
            seen.setdefault(term)
            if len(seen) >= _MAX_LEXEMES:
                break
    return list(seen)


def index_release(
    bind: Session | Connection, release_id: int, title: str, subtitle: str | None, body_html: str
) -> None:
    """Replace one release's entry; call inside the transaction that stores the release."""
    delete_from_index(bind, release_id)
    _insert(bind, index_values(release_id, title, subtitle, body_html))


def _fts5_query(terms: Sequence[QueryTerm]) -> str:
    # Terms are word characters only, but quote them anyway: FTS5 has operators.
    return " AND ".join(f'"{t.text}"' + ("*" if t.prefix else "") for t in terms)


def _tsquery(terms: Sequence[QueryTerm]) -> str:
    return " & ".join(f"'{t.text}'" + (":*" if t.prefix else "") for t in terms)


def search_page(
    session: Session,
    query: str,
    *,
    department_slug: str | None,
    category_slug: str | None,
    limit: int,
    offset: int,
) -> tuple[list[int], int]:
    """Live release ids best first, and how many match in all (0 when nothing to look for)."""
    terms = query_terms(query)
    if not terms:
        return [], 0
    where = ["r.retracted_at IS NULL"]
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if department_slug:
        where.append("r.department_slug = :department")
        params["department"] = department_slug
    if category_slug:
        where.append(
            "EXISTS (SELECT 1 FROM release_categories c"
            " WHERE c.release_id = r.id AND c.slug = :category)"
        )
        params["category"] = category_slug
    if _is_sqlite(session):
        params["q"] = _fts5_query(terms)
        matches = (
            f"SELECT rowid AS id, bm25({SEARCH_TABLE}, {_TITLE_WEIGHT}, {_BODY_WEIGHT}) AS score"
            f" FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH :q"
        )
        order = "m.score ASC"  # bm25: lower is better
    else:
        params["q"] = _tsquery(terms)
        matches = (
            "SELECT release_id AS id, ts_rank(document, CAST(:q AS tsquery)) AS score"
            f" FROM {SEARCH_TABLE} WHERE document @@ CAST(:q AS tsquery)"
        )
        order = "m.score DESC"
    joined = f"FROM ({matches}) m JOIN releases r ON r.id = m.id WHERE {' AND '.join(where)}"
    ids = session.execute(
        text(
            f"SELECT r.id {joined} ORDER BY {order}, r.published_at DESC, r.id DESC"
            " LIMIT :limit OFFSET :offset"
        ),
        params,
    ).scalars()
    total = session.execute(text(f"SELECT count(*) {joined}"), params).scalar_one()
    return list(ids), int(total)

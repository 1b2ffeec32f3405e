"""Words to index and to look for, Hangul as overlapping syllable bigrams.

Most Korean words are two syllables and a resident may type part of a word (지팡 for
흰지팡이), so each Hangul run is indexed as its bigrams (흰지 지팡 팡이). A query is
turned into the same bigrams and every one must match; a one-syllable query matches
any bigram it starts. Other words are indexed whole, lowercased, and matched by prefix.
Pure functions: the migration that builds the index for old rows uses them too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from markupsafe import Markup

__all__ = ["MAX_QUERY_TERMS", "QueryTerm", "document_terms", "plain_text", "query_terms"]

# Hangul syllables only: jamo typed alone are not words.
_PIECE = re.compile(r"[\uac00-\ud7a3]+|[^\W\uac00-\ud7a3_]+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]+")
# PostgreSQL refuses lexemes over 2 KiB; no real word is near this.
_MAX_TERM_CHARS = 100
# A query is a few words; more is someone pasting a page.
MAX_QUERY_TERMS = 32


@dataclass(frozen=True)
class QueryTerm:
    text: str
    prefix: bool  # match any indexed term that starts with ``text``


def _pieces(text: str) -> Iterator[str]:
    for piece in _PIECE.findall(text.lower()):
        # A Hangul run becomes two-syllable terms, however long; other words are cut.
        yield piece if _HANGUL.fullmatch(piece) else piece[:_MAX_TERM_CHARS]


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def plain_text(html: str) -> str:
    """The words of a body, tags dropped and entities decoded."""
    return Markup(html).striptags()


def document_terms(text: str) -> list[str]:
    """Every term of ``text`` in order, repeats kept (ranking counts them)."""
    terms: list[str] = []
    for piece in _pieces(text):
        terms.extend(_bigrams(piece) if _HANGUL.fullmatch(piece) else [piece])
    return terms


def query_terms(query: str) -> list[QueryTerm]:
    """What a search box's text must all match, without repeats, at most MAX_QUERY_TERMS."""
    found: dict[str, QueryTerm] = {}
    for piece in _pieces(query):
        if _HANGUL.fullmatch(piece):
            if len(piece) == 1:
                found.setdefault(piece, QueryTerm(piece, prefix=True))
            for gram in _bigrams(piece) if len(piece) > 1 else []:
                found.setdefault(gram, QueryTerm(gram, prefix=False))
        else:
            found.setdefault(piece, QueryTerm(piece, prefix=True))
    return list(found.values())[:MAX_QUERY_TERMS]

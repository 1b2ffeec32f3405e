"""Text hygiene applied once, on intake: NFC, and nothing a renderer, a reader or an XML
parser can trip on; HTML sanitised, with every link a valid URI."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urljoin, urlsplit

import nh3

from syndicator.events.uris import iri_to_uri

__all__ = ["clean_text", "sanitize_html"]

# C0/C1 controls except tab, LF and CR (lxml rejects them; HWP pastes contain them),
# lone surrogates (JSON can escape them, UTF-8 cannot encode them), and the 66 Unicode
# noncharacters (XML forbids U+FFFE and U+FFFF).
_NEVER_TEXT = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17))
    + "]"
)
# Bidi embeddings, overrides and isolates: they reorder what a reader sees ("Trojan
# Source"); zero-width spaces, word joiners and BOMs hide text or split words invisibly.
_INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200b\u2060\ufeff\u180e]")
# ZWJ and ZWNJ shape scripts and emoji only between two visible characters.
# Markup's angle brackets end a word too: in HTML, "<p>\u200c</p>" is a lone joiner.
_STRAY_JOINER = re.compile(r"(?:(?<=[\s<>])|^)[\u200c\u200d]+|[\u200c\u200d]+(?=[\s<>]|$)")
# Any absolute http(s) URL: relative links are checked as if they sat on such a page.
_PROBE_BASE = "https://example.invalid/a/b"

_ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "code",
    "col",
    "colgroup",
    "dd",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "col": {"span"},
}


_LINK_ATTRIBUTES = {"href", "src"}


def clean_text(value: str) -> str:
    text = unicodedata.normalize("NFC", value)
    text = _INVISIBLE.sub("", _NEVER_TEXT.sub("", text))
    return _STRAY_JOINER.sub("", text)


def _valid_link(value: str) -> bool:
    """A link a renderer can make absolute and percent-encode (``http://ä..example/`` can't)."""
    try:
        uri = iri_to_uri(urljoin(_PROBE_BASE, value.strip()))
        urlsplit(uri).port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:  # UnicodeError (IDNA) is a ValueError too
        return False
    return True


def _drop_invalid_links(tag: str, attribute: str, value: str) -> str | None:
    if attribute in _LINK_ATTRIBUTES and not _valid_link(value):
        return None
    return value


def sanitize_html(value: str) -> str:
    return nh3.clean(
        clean_text(value),
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer",
        attribute_filter=_drop_invalid_links,
    )

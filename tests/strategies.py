"""Hypothesis strategies for what a hostile or careless CMS can send.

Every strategy mixes ordinary values with the classes that once broke a channel:
control characters, noncharacters, lone surrogates, bidi overrides, zero-width
characters, markup in plain text, links that cannot become URIs, integers past every
column, years near 1 and 9999, and JSON nested deep or wide.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from tests.factories import make_event

NASTY_CHARACTERS = [
    "\x00",
    "\x0b",
    "\x1f",
    "\x7f",
    "\x85",
    "\ud800",
    "\udfff",
    "\ufdd0",
    "\ufffe",
    "\uffff",
    "\U0001fffe",
    "\U0010ffff",
    "\u202a",
    "\u202e",
    "\u2066",
    "\u2069",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u180e",
    "e\u0301",  # decomposed: NFC changes the length
    "\u1100\u1161",  # conjoining jamo: NFC composes them into one syllable
]
NASTY_FRAGMENTS = [
    "<script>alert(1)</script>",
    "</title>",
    "]]>",
    "&amp;",
    "&#0;",
    "&lt;b&gt;",
    '"><img src=x onerror=alert(1)>',
    "대구광역시",
    " ",
    "\n",
]
NASTY_LINKS = [
    "http://ä..com/",
    "http://ä.com/파일 1.hwp",
    "https://[::1",
    "http://x.kr:99999/",
    "//[",
    "javascript:alert(1)",
    "../상대 경로.pdf",
    "%",
    "http://" + "a" * 70 + ".kr/",
    "https://대구.kr/x?q=한#가",
    "mailto:press@daegu.go.kr",
    "",
]

any_character = st.characters(codec=None, exclude_categories=())
hostile_text = st.lists(
    st.one_of(
        st.text(any_character, max_size=8),
        st.sampled_from(NASTY_CHARACTERS),
        st.sampled_from(NASTY_FRAGMENTS),
        st.text(st.sampled_from("가나다라마바사 abc"), max_size=8),
    ),
    max_size=8,
).map("".join)


def long_text(size: int) -> st.SearchStrategy[str]:
    """Strings around a length bound, with invisible characters that clean-up removes."""
    return st.builds(
        lambda n, pad: "가" * n + pad,
        st.sampled_from([size - 1, size, size + 1]),
        st.sampled_from(["", "\u200b", "\x00" * 3, " "]),
    )


extreme_int = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**53 - 1, 2**53, 2**63 - 1, 2**63, 2**64, -1]),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=99).map(str),
    st.none(),
)

extreme_date = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),  # naive
    st.sampled_from(
        [
            "9999-12-31T20:00:00+00:00",
            "0001-01-01T00:00:00+09:00",
            "1899-12-31T23:59:59+00:00",
            "2099-12-31T23:59:59-23:59",
            "2022-10-23",
            "2022-10-23T09:00+09:00",
            "2022-02-30T09:00:00+09:00",
            "2022-10-23T09:00:00+24:00",
            "",
        ]
    ),
    st.integers(min_value=-(2**40), max_value=2**40),
)

_tag = st.sampled_from(["p", "a", "img", "script", "div", "table", "td", "iframe", "b", "x-y"])


@st.composite
def html(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        tag = draw(_tag)
        attribute = draw(st.sampled_from(["href", "src", "onclick", "title", "style"]))
        value = draw(st.one_of(st.sampled_from(NASTY_LINKS), hostile_text))
        quoted = value.replace('"', "&quot;")
        parts.append(f'<{tag} {attribute}="{quoted}">{draw(hostile_text)}</{tag}>')
        if draw(st.booleans()):
            parts.append(draw(st.sampled_from(["<", "</p", "<!--", "&", "<a href=x"])))
    return "".join(parts)


def deep(levels: int) -> Any:
    value: Any = "바닥"
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


# Python objects stay shallow (hypothesis prints them); to_body nests the wire deeper.
deep_json = st.one_of(
    st.integers(min_value=1, max_value=40).map(deep),
    st.lists(st.integers(), min_size=100, max_size=2000),  # wide
)
wire_depth = st.one_of(st.just(0), st.integers(min_value=1, max_value=100_000))

_maybe = st.booleans()


@st.composite
def event_documents(draw: st.DrawFn) -> dict[str, Any]:
    """An event document: mostly the ordinary shape, with any field made hostile."""
    release_id = draw(st.one_of(st.integers(min_value=1, max_value=400), extreme_int))
    event = make_event(1)
    release = event["release"]
    release["id"] = release_id
    hostile: dict[str, st.SearchStrategy[Any]] = {
        "title": st.one_of(hostile_text, long_text(500)),
        "subtitle": st.one_of(st.none(), hostile_text),
        "summary": st.one_of(st.none(), hostile_text),
        "body_html": st.one_of(html(), hostile_text),
        "department": st.one_of(hostile_text, long_text(200)),
        "categories": st.lists(st.one_of(hostile_text, long_text(100)), max_size=22),
        "url": st.sampled_from(NASTY_LINKS),
        "published_at": extreme_date,
        "updated_at": extreme_date,
        "license": st.one_of(hostile_text, long_text(50)),
        "views": extreme_int,
        "contact": st.one_of(
            st.none(), st.fixed_dictionaries({"name": hostile_text, "phone": hostile_text})
        ),
        "attachments": st.lists(
            st.fixed_dictionaries(
                {
                    "filename": hostile_text,
                    "url": st.sampled_from(NASTY_LINKS),
                    "size": extreme_int,
                    "media_type": st.one_of(
                        hostile_text, st.sampled_from(["application/pdf", "image/png; q=1"])
                    ),
                }
            ),
            max_size=3,
        ),
    }
    for field, strategy in hostile.items():
        if draw(_maybe):
            release[field] = draw(strategy)
    if draw(st.integers(0, 9)) == 0:
        release[draw(st.sampled_from(["surprise", "title", "categories"]))] = draw(deep_json)
    if draw(st.integers(0, 9)) == 0:
        event["type"] = draw(st.sampled_from(["release.retracted", "release.updated", True]))
    return event


def to_body(document: Any, ascii_only: bool, depth: int = 0) -> bytes:
    """JSON bytes, with an extra member nested ``depth`` levels deep. ensure_ascii writes
    lone surrogates as \\ud800 escapes, as JSON allows; UTF-8 cannot carry them raw."""
    try:
        body = json.dumps(document, ensure_ascii=ascii_only).encode("utf-8")
    except UnicodeEncodeError:
        body = json.dumps(document, ensure_ascii=True).encode("ascii")
    if depth and body.endswith(b"}") and len(body) > 2:
        body = body[:-1] + b', "nested": ' + b"[" * depth + b"]" * depth + b"}"
    return body

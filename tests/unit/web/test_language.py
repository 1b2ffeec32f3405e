"""Which language a request gets, and the link to the same page in the other one."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syndicator.web.language import choose_language, switch_query


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "language"),
    [
        ("", "", None, "ko"),
        ("", "", "en-US,en;q=0.9", "en"),
        ("", "lang=en", "ko", "en"),
        ("lang=ko", "lang=en", "en", "ko"),
        ("lang=en&lang=ko", "", "en", "ko"),  # the last one given
        ("lang=fr", "lang=de", "en", "en"),  # neither ours: Accept-Language decides
        ("lang=", "session=x; lang=en", None, "en"),
        ("q=%EC%B2%AD%EB%85%84", "lang=EN", "ko", "ko"),
    ],
)
def test_the_query_then_the_cookie_then_accept_language(
    query: str, cookie: str, accept: str | None, language: str
) -> None:
    assert choose_language(query, cookie, accept) == language


def test_the_switch_keeps_the_other_parameters_in_order() -> None:
    assert switch_query("", "en") == "?lang=en"
    assert switch_query("q=%EA%B5%90%ED%86%B5&page=2&lang=ko", "en") == (
        "?q=%EA%B5%90%ED%86%B5&page=2&lang=en"
    )


@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=5))
def test_the_switch_changes_nothing_but_lang(pairs: list[tuple[str, str]]) -> None:
    query = urlencode(pairs)
    switched = parse_qsl(switch_query(query, "en")[1:], keep_blank_values=True)
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "lang"]
    assert switched == [*kept, ("lang", "en")]

"""Whole numbers typed by people (page numbers, ids in forms and paths)."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from syndicator.web.ids import MAX_ID, whole_number

# Characters str.isdigit accepts that are not the ASCII digits a reader means.
UNICODE_DIGITS = "²³¹⁰₀①١٢۳߄२৩໔၅႐០᠑᥆᧐᪀᭐᮰᱀꘠꣐꤀꧐꩐꯰０𝟎𝟘"

digit_strings = st.one_of(
    st.text(st.sampled_from("0123456789" + UNICODE_DIGITS), min_size=1, max_size=30),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.text(max_size=12),
)


@given(digit_strings, st.integers(0, 5), st.sampled_from([1, 9, 20, 2160, 100_000, MAX_ID]))
@example("9" * 4301, 1, MAX_ID)
@example("²", 1, MAX_ID)
@example("0" * 11 + "1", 1, MAX_ID)
def test_only_ascii_digits_in_range_are_a_number(text: str, low: int, high: int) -> None:
    value = whole_number(text, low, high)
    pattern = f"[0-9]{{1,{len(str(high))}}}"
    if re.fullmatch(pattern, text) and low <= int(text) <= high:
        assert value == int(text)
    else:
        assert value is None


def test_defaults_are_an_id() -> None:
    assert whole_number("1") == 1
    assert whole_number(str(MAX_ID)) == MAX_ID
    assert whole_number(str(MAX_ID + 1)) is None
    assert whole_number("0") is None

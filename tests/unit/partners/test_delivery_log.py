"""The delivery log as the API shows it: durations rounded, in the values and the schema."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from syndicator.partners.delivery_log import AttemptView, shown_ms


def attempt(duration_ms: float) -> AttemptView:
    return AttemptView(
        id=1,
        number=1,
        trigger="scheduled",
        started_at=datetime(2026, 12, 7, tzinfo=UTC),
        duration_ms=duration_ms,
        outcome="succeeded",
        status_code=200,
        error_class=None,
        url="https://partner.example/hooks",
        response=None,
        detail=None,
        next_attempt_at=None,
        message_id="msg_1",
    )


@given(st.floats(min_value=0, max_value=10_000_000, allow_nan=False))
def test_a_duration_is_shown_to_a_tenth_of_a_millisecond(duration: float) -> None:
    text = attempt(duration).model_dump_json()
    shown = re.search(r'"duration_ms":([0-9.e+-]+)', text)
    assert shown is not None
    assert re.fullmatch(r"\d+(\.\d)?", shown.group(1)), shown.group(1)
    assert abs(json.loads(text)["duration_ms"] - duration) <= 0.05 + 1e-9


def test_the_issue_s_example() -> None:
    assert attempt(4.2819359999839435).model_dump()["duration_ms"] == 4.3
    assert shown_ms(4.2819359999839435) == 4.3


def test_the_schema_says_how_it_is_rounded() -> None:
    schema = AttemptView.model_json_schema()["properties"]["duration_ms"]
    assert schema["type"] == "number" and "rounded to 0.1 ms" in schema["description"]

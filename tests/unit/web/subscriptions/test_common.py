"""Reading a subscription body: JSON or a urlencoded form, the same preferences from both,
and a clear problem for what cannot be read."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from syndicator.subscriptions.preferences import MODES, InvalidPreference
from syndicator.web.problems import Problem
from syndicator.web.subscriptions.common import MAX_FORM_BYTES, preferences, read_fields

_TOPICS = st.lists(st.text(st.characters(categories=["Lo"]), min_size=1, max_size=6), max_size=4)


def _request(body: bytes, content_type: str) -> Request:
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    return Request({"type": "http", "method": "POST", "headers": headers}, receive)


def _read(body: bytes, content_type: str) -> dict[str, object]:
    return asyncio.run(read_fields(_request(body, content_type)))


@given(mode=st.sampled_from(MODES), categories=_TOPICS, departments=_TOPICS)
def test_json_and_a_form_give_the_same_preferences(mode, categories, departments):
    sent = {"email": "a@example.com", "mode": mode, "categories": categories}
    sent["departments"] = departments
    as_json = _read(json.dumps(sent).encode(), "application/json")
    as_form = _read(urlencode(sent, doseq=True).encode(), "application/x-www-form-urlencoded")
    assert preferences(as_json) == preferences(as_form)
    assert preferences(as_form).mode == mode


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{", "application/json", 400),
        (b"[1]", "application/json", 422),
        (b"\xff=1", "application/x-www-form-urlencoded", 400),
        (b"email=a", "text/plain", 415),
        (b"x" * (MAX_FORM_BYTES + 1), "application/x-www-form-urlencoded", 413),
    ],
)
def test_an_unreadable_body_is_a_specific_problem(body, content_type, status):
    with pytest.raises(Problem) as refused:
        _read(body, content_type)
    assert refused.value.status == status


def test_a_topic_that_is_not_a_list_names_its_field():
    with pytest.raises(InvalidPreference) as refused:
        preferences({"categories": "교통"})
    assert refused.value.field == "categories"

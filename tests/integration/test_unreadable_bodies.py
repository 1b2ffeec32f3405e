"""A body the app cannot read (not UTF-8, not JSON, not a form) is a 4xx the operation
documents, as a problem document: never FastAPI's bare 400 ``{"detail": …}``.

Every operation with a request body in /openapi.json is tried, over real HTTP, so a new
one is covered without a line here.
"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.apps import offline_app

ADMIN = {"Authorization": "Bearer test-admin-token"}
DOCUMENT = offline_app().openapi()
WITH_BODIES = [
    (method.upper(), path, media)
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
    for media in operation.get("requestBody", {}).get("content", {})
]


def test_the_operations_with_bodies_are_found() -> None:
    assert ("POST", "/api/partners", "application/json") in WITH_BODIES


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=st.binary(min_size=1, max_size=64))
@example(body=b"\xff\xfe{")
@example(body=b"\x04\xc3zxy")
def test_an_unreadable_body_is_a_documented_problem(client: httpx.Client, body: bytes) -> None:
    for method, path, media in WITH_BODIES:
        url = path.format(partner_id=1, delivery_id=1, token="x")
        answer = client.request(method, url, content=body, headers={**ADMIN, "Content-Type": media})
        documented = DOCUMENT["paths"][path][method.lower()]["responses"]
        where = f"{method} {path} ({media}) {body!r}: {answer.status_code}"
        assert answer.status_code < 500, where
        assert str(answer.status_code) in documented, where
        if answer.status_code >= 400 and path != "/hooks/cms":  # the hook: its own tests
            assert answer.headers["content-type"] in documented[str(answer.status_code)].get(
                "content", {}
            ), where


@pytest.mark.parametrize("media", ["application/json"])
def test_a_partner_body_that_is_not_utf8_names_the_body(client: httpx.Client, media: str) -> None:
    answer = client.post(
        "/api/partners", content=b"\xff\xfe{", headers={**ADMIN, "Content-Type": media}
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"] == [{"field": "(body)", "reason": "not valid UTF-8"}]

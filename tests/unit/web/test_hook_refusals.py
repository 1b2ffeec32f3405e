"""Each refusal of the CMS hook is one problem document, whatever step raised it."""

from __future__ import annotations

import json

import pytest

from syndicator.web.hook_refusals import (
    BadSignature,
    BadWebhookId,
    BodyNotUtf8,
    BodyTooLarge,
    DatabaseUnavailable,
    HookRefused,
    MalformedJson,
    NotConfigured,
    NotJson,
    SchemaViolation,
    ValueOutOfRange,
)


@pytest.mark.parametrize(
    ("refusal", "status", "title", "field"),
    [
        (BodyTooLarge(1024), 413, "Payload too large", None),
        (NotJson(), 415, "Unsupported media type", "content-type"),
        (NotConfigured(), 503, "Not configured", None),
        (BadSignature("expired"), 401, "Invalid signature", "webhook-signature"),
        (BodyNotUtf8(), 400, "Malformed body", None),
        (BadWebhookId("too long"), 400, "Invalid header", "webhook-id"),
        (MalformedJson("line 1"), 400, "Malformed JSON", "(body)"),
        (ValueOutOfRange("out of range"), 422, "Value out of range", "(body)"),
        (DatabaseUnavailable(), 503, "Database unavailable", None),
    ],
)
def test_a_refusal_is_its_problem_document(
    refusal: HookRefused, status: int, title: str, field: str | None
):
    answer = refusal.response()
    document = json.loads(bytes(answer.body))
    assert answer.status_code == status == document["status"]
    assert answer.media_type == "application/problem+json"
    assert (document["title"], document["type"]) == (title, "about:blank")
    if field is None:
        assert "errors" not in document
    else:
        assert document["errors"] == [{"field": field, "reason": refusal.errors[0]["reason"]}]
        assert refusal.errors[0]["reason"]


def test_only_an_unavailable_database_asks_to_retry_later():
    assert DatabaseUnavailable().response().headers["retry-after"] == "5"
    assert "retry-after" not in NotConfigured().response().headers


def test_a_schema_violation_lists_every_field():
    errors = [{"field": "release.id", "reason": "bad"}, {"field": "type", "reason": "bad"}]
    document = json.loads(bytes(SchemaViolation(errors).response().body))
    assert document["errors"] == errors and document["detail"] == "2 field(s) are invalid"

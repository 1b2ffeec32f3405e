"""The event catalog over real HTTP: /api/event-types, /asyncapi.json and OpenAPI's
webhooks, public and consistent with each other."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from jsonschema import Draft7Validator, Draft202012Validator

from syndicator.partners.catalog import CATALOG, example
from tests.integration.webhook_receiver import receiver

ASYNCAPI_SCHEMA = json.loads(
    (Path(__file__).parents[1] / "schemas" / "asyncapi-3.0.0.json").read_text()
)


def test_every_event_type_is_listed_with_its_schema_and_a_valid_example(client: httpx.Client):
    answer = client.get("/api/event-types")  # no token: partners read it first
    assert answer.status_code == 200, answer.text
    listed = answer.json()
    assert [t["type"] for t in listed] == [
        "release.published",
        "release.updated",
        "release.retracted",
        "partner.test",
    ]
    for entry in listed:
        assert entry["version"] == 1 and entry["summary"]
        Draft202012Validator.check_schema(entry["schema"])
        Draft202012Validator(entry["schema"]).validate(entry["example"])
        one = client.get(f"/api/event-types/{entry['type']}")
        assert one.status_code == 200 and one.json() == entry


def test_an_unknown_event_type_is_a_404_problem(client: httpx.Client):
    answer = client.get("/api/event-types/release.exploded")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "release.published" in answer.json()["detail"]


def test_asyncapi_json_is_served_and_valid(client: httpx.Client):
    answer = client.get("/asyncapi.json")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    document = answer.json()
    Draft7Validator(ASYNCAPI_SCHEMA).validate(document)
    assert set(document["channels"]) == set(CATALOG)


def test_openapi_lists_every_event_type_as_a_webhook(client: httpx.Client):
    webhooks = client.get("/openapi.json").json()["webhooks"]
    assert set(webhooks) == set(CATALOG)
    for name, item in webhooks.items():
        assert "v1a," in item["post"]["description"], name


def test_the_test_partner_fails_a_test_that_sent_an_envelope_its_schema_refuses():
    """The check every webhook test relies on can fail."""
    envelope = {**example("release.published"), "version": 2}
    with pytest.raises(AssertionError, match="version"), receiver() as site:
        httpx.post(
            site.url("a"), content=json.dumps(envelope), headers={"webhook-id": "msg_1"}, timeout=30
        )
    with receiver() as site:  # the same envelope, as the catalog says it is: accepted
        body = json.dumps(example("release.published"))
        httpx.post(site.url("a"), content=body, headers={"webhook-id": "msg_2"}, timeout=30)

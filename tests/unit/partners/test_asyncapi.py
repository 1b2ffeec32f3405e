"""/asyncapi.json: valid against the official AsyncAPI 3.0.0 JSON Schema (vendored in
tests/schemas/, see its README), and the same catalog as /api/event-types."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from jsonschema import Draft7Validator, Draft202012Validator
from standardwebhooks.webhooks import Webhook

from syndicator.partners.asyncapi import _EXAMPLE_SECRET, asyncapi_document
from syndicator.partners.catalog import CATALOG, example
from syndicator.partners.envelope import encode

ASYNCAPI_SCHEMA = json.loads(
    (Path(__file__).parents[2] / "schemas" / "asyncapi-3.0.0.json").read_text()
)
DOCUMENT = asyncapi_document("1.2.3")


def test_the_document_is_valid_asyncapi_3():
    Draft7Validator(ASYNCAPI_SCHEMA).validate(DOCUMENT)
    assert DOCUMENT["asyncapi"] == "3.0.0" and DOCUMENT["info"]["version"] == "1.2.3"


def test_the_vendored_schema_catches_a_broken_document():
    broken = {**DOCUMENT, "operations": {"send.x": {"action": "shout", "channel": {}}}}
    errors = list(Draft7Validator(ASYNCAPI_SCHEMA).iter_errors(broken))
    assert errors


def test_every_event_type_has_a_channel_a_send_operation_and_a_message():
    for name in CATALOG:
        assert DOCUMENT["channels"][name]["messages"][name]["$ref"] == (
            f"#/components/messages/{name}"
        )
        operation = DOCUMENT["operations"][f"send.{name}"]
        assert operation["action"] == "send"
        assert operation["channel"] == {"$ref": f"#/channels/{name}"}
        assert DOCUMENT["components"]["messages"][name]["examples"][0]["payload"] == example(name)
    schemes = DOCUMENT["components"]["securitySchemes"].values()
    assert [s["description"].split("`")[1] for s in schemes] == ["v1", "v1a"]


def _resolved(schema: dict) -> dict:
    """A message's payload schema with the document's components, for jsonschema."""
    return {**schema, "components": DOCUMENT["components"]}


def test_each_message_example_validates_against_its_payload_and_header_schemas():
    components = DOCUMENT["components"]
    for name, message in components["messages"].items():
        sample = message["examples"][0]
        payload_schema = _resolved(message["payload"])
        Draft202012Validator(payload_schema).validate(sample["payload"])
        Draft202012Validator(_resolved(message["headers"])).validate(sample["headers"])
        # The example's signature is a real one, over the example's exact body.
        body = encode(sample["payload"])
        webhook = Webhook(_EXAMPLE_SECRET)
        signed = webhook.sign(
            sample["headers"]["webhook-id"],
            _when(sample["headers"]["webhook-timestamp"]),
            body.decode(),
        )
        assert signed == sample["headers"]["webhook-signature"], name


def _when(stamp: str) -> datetime:
    return datetime.fromtimestamp(int(stamp), UTC)

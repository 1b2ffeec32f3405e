"""The event catalog as an AsyncAPI 3.0 document (pure): one channel, one send operation
and one message per event type, with the Standard Webhooks headers and both signature
schemes. Served at ``/asyncapi.json``; the payload schemas are the catalog's own.

A channel's address is null: each partner names its own endpoint URL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from syndicator.partners.catalog import CATALOG, example
from syndicator.partners.envelope import ENVELOPE_VERSION, encode
from syndicator.partners.signing import signed_headers

__all__ = ["ASYNCAPI_VERSION", "asyncapi_document"]

ASYNCAPI_VERSION = "3.0.0"
_SCHEMAS = "#/components/schemas/{model}"
# One entry or more, space-separated: v1 (HMAC-SHA256) or v1a (Ed25519), base64.
SIGNATURE_PATTERN = r"^(v1a?,[A-Za-z0-9+/]+={0,2})( v1a?,[A-Za-z0-9+/]+={0,2})*$"
_HEADERS = {
    "type": "object",
    "required": ["webhook-id", "webhook-timestamp", "webhook-signature"],
    "properties": {
        "webhook-id": {
            "type": "string",
            "pattern": "^msg_[a-z2-7]+$",
            "description": "Stable per delivery: the same for every retry and replay. "
            "Deduplicate on it.",
        },
        "webhook-timestamp": {
            "type": "string",
            "pattern": "^[0-9]+$",
            "description": "Unix seconds of this attempt; refuse one more than 5 minutes off.",
        },
        "webhook-signature": {
            "type": "string",
            "pattern": SIGNATURE_PATTERN,
            "description": "One entry per active key (two during a rotation), each over "
            "`{webhook-id}.{webhook-timestamp}.{body}`: `v1,<base64 HMAC-SHA256>` keyed by "
            "the partner's `whsec_` secret, or `v1a,<base64 Ed25519>` verified with its "
            "`whpk_` public key.",
        },
        "content-type": {"type": "string", "const": "application/json"},
    },
}
_SCHEMES = {
    "standardWebhooksV1": {
        "type": "httpApiKey",
        "name": "webhook-signature",
        "in": "header",
        "description": "Standard Webhooks `v1`: HMAC-SHA256 with the shared secret "
        "(`whsec_` + base64), the default scheme.",
    },
    "standardWebhooksV1a": {
        "type": "httpApiKey",
        "name": "webhook-signature",
        "in": "header",
        "description": "Standard Webhooks `v1a`: Ed25519, for a partner registered with "
        '`"signature_scheme": "ed25519"`; verify with its public key (`whpk_` + base64 of '
        "the 32-byte key), no shared secret.",
    },
}
# A published example key that signs nothing real: the examples show a signature's shape.
_EXAMPLE_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
_EXAMPLE_WHEN = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)


def _operation_id(event_type: str) -> str:
    return "send." + event_type


@cache
def asyncapi_document(app_version: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {"WebhookHeaders": _HEADERS}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for name, entry in CATALOG.items():
        schema = entry.model.model_json_schema(mode="serialization", ref_template=_SCHEMAS)
        schemas.update(schema.pop("$defs", {}))
        schemas[entry.model.__name__] = schema
        sample = example(name)
        headers = signed_headers([_EXAMPLE_SECRET], "msg_example", encode(sample), _EXAMPLE_WHEN)
        messages[name] = {
            "name": name,
            "title": name,
            "summary": entry.summary,
            "description": entry.description,
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/WebhookHeaders"},
            "payload": {"$ref": f"#/components/schemas/{entry.model.__name__}"},
            "examples": [
                {
                    "name": "example",
                    "headers": headers,
                    "payload": sample,
                }
            ],
        }
        channels[name] = {
            "address": None,
            "title": name,
            "description": f"POSTed to the endpoint URL of every partner that takes {name}.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[_operation_id(name)] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": entry.summary,
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
            "security": [
                {"$ref": "#/components/securitySchemes/standardWebhooksV1"},
                {"$ref": "#/components/securitySchemes/standardWebhooksV1a"},
            ],
            "bindings": {"http": {"method": "POST", "bindingVersion": "0.3.0"}},
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "syndicator partner webhooks",
            "version": app_version,
            "description": "Release events a city's press-release board sends to partners "
            "as signed Standard Webhooks POSTs. Answer 2xx to accept; 3xx is a failure; "
            f"410 disables the endpoint. Envelope version {ENVELOPE_VERSION}.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "securitySchemes": _SCHEMES,
        },
    }

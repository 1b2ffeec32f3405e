"""Partner webhooks in OpenAPI's ``webhooks`` section: what partners receive and how it
is signed. Documentation only; the models are the event catalog's (partners/catalog.py)
and deliveries are made by channels/webhooks.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Header

from syndicator.partners.catalog import (
    CATALOG,
    PartnerTestEnvelope,
    PublishedEnvelope,
    RetractedEnvelope,
    UpdatedEnvelope,
)

__all__ = ["SIGNING", "document_partner_webhooks"]

SIGNING = (
    "Signed as Standard Webhooks: verify with any Standard Webhooks library, e.g. "
    "`standardwebhooks.Webhook(secret).verify(body, headers)`. `webhook-signature` holds "
    "one entry per active key (two during a key rotation): `v1,<base64 HMAC-SHA256>` for a "
    "partner with a shared secret (`whsec_…`, the default), or `v1a,<base64 Ed25519>` for "
    "a partner with the `ed25519` scheme, verified with its public key (`whpk_…`) alone. "
    "Both sign `{webhook-id}.{webhook-timestamp}.{body}`. Deduplicate on "
    "`webhook-id`: it is the same for every retry and replay of one delivery. "
    "Answer 2xx to accept; 3xx is a failure (never followed); 410 disables the partner; "
    "429/502/503/504 may send `Retry-After`. Every type's JSON Schema and an example: "
    "`GET /api/event-types`; the same as AsyncAPI 3.0: `/asyncapi.json`."
)

WebhookId = Annotated[str, Header(alias="webhook-id", description="msg_…, stable per delivery")]
WebhookTimestamp = Annotated[str, Header(alias="webhook-timestamp", description="Unix seconds")]
WebhookSignature = Annotated[
    str,
    Header(
        alias="webhook-signature",
        description="Space-separated `v1,<base64>` or `v1a,<base64>` entries",
    ),
]


def _summary(event_type: str) -> str:
    return CATALOG[event_type].summary


def _description(event_type: str) -> str:
    return f"{CATALOG[event_type].description}\n\n{SIGNING}"


def document_partner_webhooks(app: FastAPI) -> None:
    published, updated, retracted, test = (
        "release.published",
        "release.updated",
        "release.retracted",
        "partner.test",
    )
    assert set(CATALOG) == {published, updated, retracted, test}

    @app.webhooks.post(published, summary=_summary(published), description=_description(published))
    def release_published(
        body: PublishedEnvelope, id: WebhookId, ts: WebhookTimestamp, sig: WebhookSignature
    ) -> None: ...

    @app.webhooks.post(updated, summary=_summary(updated), description=_description(updated))
    def release_updated(
        body: UpdatedEnvelope, id: WebhookId, ts: WebhookTimestamp, sig: WebhookSignature
    ) -> None: ...

    @app.webhooks.post(retracted, summary=_summary(retracted), description=_description(retracted))
    def release_retracted(
        body: RetractedEnvelope, id: WebhookId, ts: WebhookTimestamp, sig: WebhookSignature
    ) -> None: ...

    @app.webhooks.post(test, summary=_summary(test), description=_description(test))
    def partner_test(
        body: PartnerTestEnvelope, id: WebhookId, ts: WebhookTimestamp, sig: WebhookSignature
    ) -> None: ...

"""Partner webhooks in OpenAPI's ``webhooks`` section: what partners receive and how it
is signed. Documentation only; deliveries are made by channels/webhooks.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import FastAPI, Header
from pydantic import BaseModel, Field

from syndicator.events.schema import Release
from syndicator.partners.envelope import ENVELOPE_VERSION, RETRACTED_FIELDS

__all__ = ["document_partner_webhooks"]

_SIGNING = (
    "Signed as Standard Webhooks: verify with any Standard Webhooks library, e.g. "
    "`standardwebhooks.Webhook(secret).verify(body, headers)`. `webhook-signature` holds "
    "one `v1,` entry per active key (two during a key rotation). Deduplicate on "
    "`webhook-id`: it is the same for every retry and replay of one delivery. "
    "Answer 2xx to accept; 3xx is a failure (never followed); 410 disables the partner; "
    "429/502/503/504 may send `Retry-After`."
)


class RetractedRelease(BaseModel):
    id: int
    url: str
    department: str
    categories: list[str] = []
    published_at: datetime
    updated_at: datetime


class ReleaseData(BaseModel):
    release: Release


class RetractedData(BaseModel):
    release: RetractedRelease


class _Envelope(BaseModel):
    id: str = Field(description="The event id; the same event reaches every partner.")
    timestamp: datetime = Field(description="When syndicator received the event (UTC).")
    version: Literal[1] = Field(description="Envelope schema version; changes only incompatibly.")


class PublishedEnvelope(_Envelope):
    type: Literal["release.published"]
    data: ReleaseData


class UpdatedEnvelope(_Envelope):
    type: Literal["release.updated"]
    data: ReleaseData


class RetractedEnvelope(_Envelope):
    type: Literal["release.retracted"]
    data: RetractedData


WebhookId = Annotated[str, Header(alias="webhook-id", description="msg_…, stable per delivery")]
WebhookTimestamp = Annotated[str, Header(alias="webhook-timestamp", description="Unix seconds")]
WebhookSignature = Annotated[
    str, Header(alias="webhook-signature", description="Space-separated `v1,<base64>` entries")
]


def document_partner_webhooks(app: FastAPI) -> None:
    # The documented shape follows the envelope module's.
    assert ENVELOPE_VERSION == 1 and set(RetractedRelease.model_fields) == set(RETRACTED_FIELDS)

    @app.webhooks.post("release.published", summary="A release was published", description=_SIGNING)
    def release_published(
        body: PublishedEnvelope, id: WebhookId, ts: WebhookTimestamp, sig: WebhookSignature
    ) -> None:
        """Absolute release and attachment URLs."""

    @app.webhooks.post("release.updated", summary="A release changed", description=_SIGNING)
    def release_updated(
        body: UpdatedEnvelope, id: WebhookId, ts: WebhookTimestamp, sig: WebhookSignature
    ) -> None:
        """The whole release as it is now."""

    @app.webhooks.post("release.retracted", summary="A release was withdrawn", description=_SIGNING)
    def release_retracted(
        body: RetractedEnvelope, id: WebhookId, ts: WebhookTimestamp, sig: WebhookSignature
    ) -> None:
        """Only what identifies the release: remove it from your site."""

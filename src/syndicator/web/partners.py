"""HTTP API: partners (admin token required). The rules live in partners/registry.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field

from syndicator.config import TokenKeysMissing
from syndicator.partners import (
    client_certs,
    delivery_log,
    portal_links,
    portal_requests,
    registry,
)
from syndicator.partners.client_certs import ClientCertView
from syndicator.partners.delivery_log import NotResendable
from syndicator.partners.registry import (
    InvalidPartner,
    NewSecret,
    PartnerNotFound,
    PartnerPatch,
    PartnerSpec,
    PartnerView,
    Reason,
    SignatureScheme,
)
from syndicator.store.sealed import InvalidEncryptionKey, Keyring, keyring
from syndicator.web.admin import ADMIN_RESPONSES, AdminOnly, api_operator
from syndicator.web.ids import PartnerId
from syndicator.web.problem_route import VALIDATION_RESPONSES, ProblemRoute
from syndicator.web.problems import PROBLEM_CONTENT, Problem
from syndicator.web.state import AppState

__all__ = ["PartnerWithSecret", "aware", "router"]

router = APIRouter(
    prefix="/api/partners",
    tags=["Partners"],
    dependencies=[AdminOnly],
    responses={
        **ADMIN_RESPONSES,
        **VALIDATION_RESPONSES,
        404: {"description": "No such partner (or it was deleted)", **PROBLEM_CONTENT},
    },
    route_class=ProblemRoute,
)


class PartnerWithSecret(PartnerView):
    secret: str | None = Field(
        description="The signing secret (whsec_…), shown only in this answer: store it now. "
        "null for the ed25519 scheme: give the partner `public_key` (whpk_…) instead."
    )


class RotateRequest(BaseModel):
    signature_scheme: SignatureScheme | None = Field(
        None, description="The new key's scheme, which becomes the partner's; default: its own."
    )


class DisableRequest(BaseModel):
    reason: Reason | None = Field(None, description="Shown to operators.")


class Deleted(BaseModel):
    id: int
    deleted: bool = True
    suppressed_deliveries: int = Field(description="Pending deliveries that will not be sent.")


class PortalLink(BaseModel):
    partner_id: int
    url: str = Field(description="Opens the partner's portal; send it to the partner.")
    expires_at: datetime


class Recovered(BaseModel):
    partner_id: int
    since: datetime
    resent: int = Field(description="Failed deliveries made due now, as manual attempts.")


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.syndicator
    return state


@contextmanager
def _answers() -> Iterator[None]:
    """The registry's errors, as problem documents."""
    try:
        yield
    except InvalidPartner as exc:
        raise Problem(422, "Invalid partner", str(exc), errors=exc.errors) from None
    except PartnerNotFound as exc:
        raise Problem(404, "Not found", str(exc)) from None
    except NotResendable as exc:
        raise Problem(409, "Cannot resend", str(exc)) from None
    except InvalidEncryptionKey as exc:
        raise Problem(503, "Service Unavailable", str(exc)) from None


def _keyring(request: Request) -> Keyring:
    """Secrets are sealed before they are stored; without a key nothing is stored."""
    with _answers():
        return keyring(_state(request).settings.encryption_keys)


def aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise Problem(
            422,
            "Invalid request",
            f"{field}: must include a timezone offset",
            errors=[{"field": field, "reason": "must include a timezone offset, e.g. +09:00"}],
        )
    return value


def _with_secret(created: NewSecret) -> PartnerWithSecret:
    return PartnerWithSecret(**created.partner.model_dump(), secret=created.secret)


@router.post(
    "",
    status_code=201,
    summary="Register a partner endpoint",
    description="Answers the partner with its signing secret, shown only this once. A URL "
    "that the SSRF guard refuses (private, loopback, link-local, ... addresses) gets a 422 "
    "whose `errors` name `url` and say why.",
)
def create_partner(spec: PartnerSpec, request: Request) -> PartnerWithSecret:
    settings = _state(request).settings
    with _answers():
        created = registry.create(
            _state(request).db,
            spec,
            api_operator(request),
            settings.webhook_allowed_networks,
            ring=_keyring(request),
        )
    return _with_secret(created)


@router.get("", summary="Every partner (deleted ones excepted)")
def list_partners(request: Request) -> list[PartnerView]:
    return registry.list_partners(_state(request).db)


@router.get("/{partner_id}", summary="One partner")
def get_partner(request: Request, partner_id: PartnerId) -> PartnerView:
    with _answers():
        return registry.get(_state(request).db, partner_id)


@router.patch(
    "/{partner_id}",
    summary="Change a partner",
    description="Only the fields given change; `null` resets an optional one. `headers` "
    'replaces them all: a header given as `{"value": null, "secret": true}` keeps its '
    "stored value, so the headers a read shows can be sent back as they are.",
)
def patch_partner(patch: PartnerPatch, request: Request, partner_id: PartnerId) -> PartnerView:
    settings = _state(request).settings
    with _answers():
        return registry.update(
            _state(request).db,
            partner_id,
            patch,
            api_operator(request),
            settings.webhook_allowed_networks,
            ring=_keyring(request),
            grace=timedelta(hours=settings.webhook_secret_grace_hours),
        )


@router.delete(
    "/{partner_id}",
    summary="Delete a partner",
    description="Its signing keys and headers are erased and its pending deliveries are "
    "suppressed (a worker sending one right now finishes it). Past deliveries stay in the "
    "log until retention removes their attempts; the id is never reused.",
)
def delete_partner(request: Request, partner_id: PartnerId) -> Deleted:
    with _answers():
        suppressed = registry.delete(_state(request).db, partner_id, api_operator(request))
    return Deleted(id=partner_id, suppressed_deliveries=suppressed)


@router.post(
    "/{partner_id}/secret/rotate",
    summary="Rotate the signing secret",
    description="A new key: a secret shown only in this answer (v1), or an Ed25519 key "
    "pair whose public key is in `public_key` (ed25519; the private key is never shown). "
    "The previous key keeps signing alongside it (two signatures) for "
    "SYNDICATOR_WEBHOOK_SECRET_GRACE_HOURS (24 h by default), so the partner can switch "
    "without losing a delivery. `signature_scheme` moves the partner to another scheme.",
)
def rotate_secret(
    request: Request, partner_id: PartnerId, body: RotateRequest | None = Body(None)
) -> PartnerWithSecret:
    state = _state(request)
    grace = timedelta(hours=state.settings.webhook_secret_grace_hours)
    scheme = body.signature_scheme if body else None
    with _answers():
        rotated = registry.rotate_secret(
            state.db,
            partner_id,
            grace,
            api_operator(request),
            ring=_keyring(request),
            scheme=scheme,
        )
    return _with_secret(rotated)


class ClientCertRequest(BaseModel):
    certificate: str = Field(description="The client certificate (chain), PEM; the leaf first.")
    key: str = Field(
        description="Its private key, PEM, unencrypted: sealed at rest, never shown again."
    )


@router.put(
    "/{partner_id}/client-certificate",
    summary="Set the client certificate (mutual TLS)",
    description="For a partner whose endpoint requires a client certificate: every "
    "delivery to it presents this one. Replaces any previous one. The key is encrypted at "
    "rest with SYNDICATOR_ENCRYPTION_KEYS and never shown again.",
)
def set_client_certificate(
    body: ClientCertRequest, request: Request, partner_id: PartnerId
) -> ClientCertView:
    with _answers():
        return client_certs.set_cert(
            _state(request).db,
            partner_id,
            body.certificate,
            body.key,
            api_operator(request),
            ring=_keyring(request),
        )


@router.get(
    "/{partner_id}/client-certificate",
    summary="The client certificate's subject and expiry",
    responses={404: {"description": "No such partner, or it has no client certificate"}},
)
def get_client_certificate(request: Request, partner_id: PartnerId) -> ClientCertView:
    with _answers():
        shown = client_certs.view(_state(request).db, partner_id)
    if shown is None:
        raise Problem(404, "Not found", f"partner {partner_id} has no client certificate")
    return shown


@router.delete(
    "/{partner_id}/client-certificate",
    status_code=204,
    summary="Stop presenting a client certificate",
)
def delete_client_certificate(request: Request, partner_id: PartnerId) -> None:
    with _answers():
        client_certs.clear(_state(request).db, partner_id, api_operator(request))


@router.post(
    "/{partner_id}/enable",
    summary="Enable a partner",
    description="Clears the disabled reason and the failing-since clock.",
)
def enable_partner(request: Request, partner_id: PartnerId) -> PartnerView:
    with _answers():
        return registry.enable(_state(request).db, partner_id, api_operator(request))


@router.post("/{partner_id}/disable", summary="Disable a partner")
def disable_partner(
    request: Request,
    partner_id: PartnerId,
    body: DisableRequest | None = Body(None),
) -> PartnerView:
    with _answers():
        reason = body.reason if body else None
        return registry.disable(_state(request).db, partner_id, api_operator(request), reason)


@router.post(
    "/{partner_id}/recover",
    status_code=202,
    summary="Resend every delivery that failed since a time",
    description="Deliveries to this partner whose last attempt failed at or after `since` "
    "are made due now; workers send them within seconds. Each is logged with trigger "
    "`manual` and is not retried automatically if it fails again. 409 while the partner "
    "is disabled.",
    responses={409: {"description": "The partner is disabled", **PROBLEM_CONTENT}},
)
def recover(
    request: Request,
    partner_id: PartnerId,
    since: datetime = Query(description="RFC 3339 with an offset, e.g. 2026-11-28T09:00:00Z"),
) -> Recovered:
    since = aware(since, "since")
    db = _state(request).db
    with _answers():
        resent = delivery_log.recover(db, partner_id, since, api_operator(request))
    return Recovered(partner_id=partner_id, since=since, resent=resent)


@router.post(
    "/{partner_id}/portal-link",
    summary="A link into the partner's self-service portal",
    description="A signed link, good for SYNDICATOR_PORTAL_LINK_HOURS (24 h by default), "
    "that opens a portal session for this partner only: its settings, its delivery log, "
    "replay and recover, its URL, its secret, disable and enable. Send it to the partner.",
    responses={503: {"description": "No token key is configured", **PROBLEM_CONTENT}},
)
def portal_link(request: Request, partner_id: PartnerId) -> PortalLink:
    state = _state(request)
    try:
        with _answers():
            url = portal_requests.issue_link(
                state.db, state.settings, partner_id, api_operator(request)
            )
    except TokenKeysMissing as exc:
        raise Problem(503, "Service Unavailable", str(exc)) from None
    return PortalLink(
        partner_id=partner_id,
        url=url,
        expires_at=portal_links.expires_at(state.settings, state.clock()),
    )

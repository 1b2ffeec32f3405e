"""Partners' client certificates for mutual TLS: checked, stored (the key sealed at rest,
store/sealed.py), and turned into the TLS context a delivery presents.

A partner that requires a client certificate gets one per partner: the certificate chain
(PEM, public) and its private key (PEM, unencrypted, so workers need no passphrase; it is
sealed with ``SYNDICATOR_ENCRYPTION_KEYS`` before it is stored and never shown again).
"""

from __future__ import annotations

import os
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from pydantic import BaseModel, Field
from sqlalchemy import delete, select

from syndicator.partners.registry import InvalidPartner, _live, partner_target
from syndicator.store.audit import write_audit
from syndicator.store.db import Database
from syndicator.store.models import PartnerClientCert
from syndicator.store.sealed import Keyring

__all__ = ["ClientCertView", "clear", "client_context", "set_cert", "view"]

_PEM_LIMIT = 64 * 1024


class ClientCertView(BaseModel):
    partner_id: int
    subject: str
    not_after: datetime = Field(description="When the certificate expires.")
    created_at: datetime


@dataclass(frozen=True)
class _Checked:
    certificate: str
    key: str
    subject: str
    not_after: datetime


def _refused(field: str, reason: str) -> InvalidPartner:
    return InvalidPartner([{"field": field, "reason": reason}])


def check(certificate: str, key: str) -> _Checked:
    """The certificate and key if they are PEM, match, and the key is unencrypted."""
    if len(certificate) > _PEM_LIMIT or len(key) > _PEM_LIMIT:
        raise _refused("certificate", f"at most {_PEM_LIMIT} characters each")
    try:
        chain = x509.load_pem_x509_certificates(certificate.encode())
    except ValueError:
        raise _refused("certificate", "not a PEM certificate (chain)") from None
    try:
        private: PrivateKeyTypes = serialization.load_pem_private_key(key.encode(), None)
    except TypeError:
        raise _refused("key", "encrypted with a passphrase: give it unencrypted") from None
    except ValueError:
        raise _refused("key", "not a PEM private key") from None
    leaf = chain[0]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if private.public_key().public_bytes(der, public) != leaf.public_key().public_bytes(
        der, public
    ):
        raise _refused("key", "does not match the certificate")
    return _Checked(
        certificate.strip() + "\n",
        key.strip() + "\n",
        leaf.subject.rfc4514_string(),
        leaf.not_valid_after_utc.astimezone(UTC),
    )


def set_cert(
    db: Database, partner_id: int, certificate: str, key: str, who: str, *, ring: Keyring
) -> ClientCertView:
    """Store (or replace) a partner's client certificate and sealed key."""
    checked = check(certificate, key)
    with db.session() as session:
        _live(session, partner_id, lock=True)
        session.execute(delete(PartnerClientCert).where(PartnerClientCert.partner_id == partner_id))
        row = PartnerClientCert(
            partner_id=partner_id,
            certificate=checked.certificate,
            key=ring.seal(checked.key),
            subject=checked.subject,
            not_after=checked.not_after,
        )
        session.add(row)
        session.flush()
        detail = f"client certificate {checked.subject}, until {checked.not_after.isoformat()}"
        write_audit(session, who, "partner-client-cert", partner_target(partner_id), detail)
        return _view(row)


def clear(db: Database, partner_id: int, who: str) -> bool:
    """Remove a partner's client certificate; False if it had none."""
    with db.session() as session:
        _live(session, partner_id, lock=True)
        result = session.execute(
            delete(PartnerClientCert).where(PartnerClientCert.partner_id == partner_id)
        )
        removed = bool(getattr(result, "rowcount", 0))
        detail = "client certificate removed" if removed else "no client certificate to remove"
        write_audit(session, who, "partner-client-cert", partner_target(partner_id), detail)
        return removed


def view(db: Database, partner_id: int) -> ClientCertView | None:
    with db.read_session() as session:
        _live(session, partner_id)
        row = session.scalar(
            select(PartnerClientCert).where(PartnerClientCert.partner_id == partner_id)
        )
        return _view(row) if row is not None else None


def _view(row: PartnerClientCert) -> ClientCertView:
    return ClientCertView(
        partner_id=row.partner_id,
        subject=row.subject,
        not_after=row.not_after,
        created_at=row.created_at,
    )


@lru_cache(maxsize=256)
def client_context(certificate: str, key: str) -> ssl.SSLContext:
    """A verifying TLS context presenting this certificate (cached: one per partner, made
    once per process). ``ssl`` loads a chain only from files: the PEM goes through a
    private temporary file, removed at once."""
    context = ssl.create_default_context()
    fd, path = tempfile.mkstemp(prefix="syndicator-mtls-", suffix=".pem")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:  # mkstemp: mode 0600
            out.write(key + certificate)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)
    return context

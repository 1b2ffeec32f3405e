"""Checking and normalising a resident's address; the key that rate-limits it."""

from __future__ import annotations

import hashlib

from email_validator import EmailNotValidError, validate_email

from syndicator.subscriptions.mailbox import canonical_domain, canonical_mailbox

__all__ = ["InvalidAddress", "address_key", "domain_key", "normalise_address"]

# RFC 5321: 64 for the local part + "@" + 255 for the domain; our column holds 320.
MAX_ADDRESS_CHARS = 320


class InvalidAddress(ValueError):
    """Not a deliverable-looking address; ``reason`` says why, for the resident."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalise_address(raw: object) -> str:
    """The address as email-validator normalises it (domain lower-cased, NFC).

    No DNS lookups: the confirmation mail is the deliverability check, and a resolver
    outage must not turn residents away.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidAddress("an email address is required")
    if len(raw) > MAX_ADDRESS_CHARS:
        raise InvalidAddress(f"longer than {MAX_ADDRESS_CHARS} characters")
    try:
        # strict: RFC 5321's 64-character local part, which SMTP servers enforce.
        checked = validate_email(raw.strip(), check_deliverability=False, strict=True)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from exc
    return checked.normalized


def address_key(address: str) -> str:
    """What the rate limiter and logs may hold instead of the address: a digest of the
    mailbox it delivers to, so ``A@x``, ``a+1@x`` and ``a+2@x`` share one limit."""
    return hashlib.sha256(canonical_mailbox(address).encode()).hexdigest()[:32]


def domain_key(address: str) -> str:
    """The limiter's key for the address's domain (a domain is not personal data)."""
    return canonical_domain(address)

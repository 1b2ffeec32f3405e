"""Portal links handed out: by an operator (:func:`issue_link`, audited before the link
leaves), or at a partner's own request (:func:`request_link`).

A partner asks for a fresh portal link: mailed to its registered contact, at most once
per partner every :data:`WINDOW`.

The answer is the same whether the address is registered or not, so the form tells no
one which partners or addresses exist. The mail is a ledger delivery on the notices
channel to ``partner:<id>``: the address is looked up when it is sent, and the link is
kept sealed with the encryption keys until then. Its event's ``webhook_id`` names the
partner and the window, so a second request in the same window inserts nothing: the
database is the rate limiter, for every web process at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from syndicator.config import Settings
from syndicator.intake.notices import PORTAL_LINK, post_notice
from syndicator.partners.portal_links import make_link_token, portal_url
from syndicator.partners.registry import PartnerNotFound, partner_target
from syndicator.store.audit import write_audit
from syndicator.store.db import Database
from syndicator.store.models import Event, Partner
from syndicator.store.sealed import keyring

__all__ = ["WINDOW", "issue_link", "request_link"]

WINDOW = timedelta(minutes=10)


def issue_link(db: Database, settings: Settings, partner_id: int, who: str) -> str:
    """A portal link for ``partner_id``, for an operator to pass on. A link opens the
    partner's settings and secret, so handing one out is audited, and no link leaves when
    its audit row cannot be written. Raises :class:`PartnerNotFound` for a deleted one."""
    url = portal_url(settings, make_link_token(settings, partner_id))
    with db.session() as session:
        partner = session.get(Partner, partner_id)
        if partner is None or partner.state == "deleted":
            raise PartnerNotFound(partner_id)
        write_audit(session, who, "portal-link", partner_target(partner_id))
    return url


def request_link(db: Database, settings: Settings, address: str, now: datetime) -> int:
    """Queue a link for every partner whose contact is ``address`` (case aside) and who
    has had none in this window; returns how many (never shown to the asker)."""
    wanted = address.strip().lower()
    if not wanted or len(wanted) > 320:
        return 0
    bucket = int(now.timestamp() // WINDOW.total_seconds())
    sent = 0
    with db.session() as session:
        partners = list(
            session.scalars(
                select(Partner).where(
                    func.lower(Partner.contact_email) == wanted, Partner.state != "deleted"
                )
            )
        )
        for partner in partners:
            key = f"portal-link:{partner.id}:{bucket}"
            if session.scalar(select(Event.id).where(Event.webhook_id == key)) is not None:
                continue
            # Sealed in the ledger (the channel opens it to write the mail).
            url = portal_url(settings, make_link_token(settings, partner.id))
            payload = {
                "partner_id": partner.id,
                "name": partner.name,
                "sealed_url": keyring(settings.encryption_keys).seal(url).token,
                "hours": settings.portal_link_hours,
            }
            post_notice(session, PORTAL_LINK, payload, partner_target(partner.id), key)
            write_audit(session, "portal:request", "portal-link-mail", partner_target(partner.id))
            sent += 1
    return sent

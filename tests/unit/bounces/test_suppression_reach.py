"""A subscriber suppressed by a returned mail is mailed nothing by any path: not planned
for a release or a digest, skipped when a row planned before the bounce (or requeued
by an operator's resend) comes to be sent, sent no confirmation and no new link. The
mail goes to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicator.bounces import verp
from syndicator.bounces.feedback import Feedback
from syndicator.bounces.recording import Action, record_feedback
from syndicator.channels.base import ChannelContext
from syndicator.channels.email import EmailChannel
from syndicator.config import Settings
from syndicator.delivery.runner import Enqueue, plan_event, run_due
from syndicator.mail.audience import subscribers_in_mode
from syndicator.store.db import Database
from syndicator.subscriptions.preferences import Preferences
from syndicator.subscriptions.states import MailToSend, new_links, request_subscription
from tests.mail_server import MailServer, running_mail_server
from tests.newsletter_support import add_subscriber, attempts_of, ledger, publish
from tests.unit.mail.support import mail_settings


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    with running_mail_server() as server:
        yield server


@pytest.fixture
def config(tmp_path: Path, smtp: MailServer, database_url: str) -> Settings:
    return mail_settings(
        tmp_path,
        SYNDICATOR_SMTP_URL=smtp.url,
        SYNDICATOR_DATABASE_URL=database_url,
        SYNDICATOR_BOUNCE_ADDRESS="bounces@news.example.kr",
    )


@pytest.fixture
def channel(db: Database, config: Settings) -> Iterator[EmailChannel]:
    made = EmailChannel(ChannelContext(settings=config, db=db))
    yield made
    made.close()


def _bounce(db: Database, settings: Settings, subscriber_id: int, kind: str) -> None:
    feedback = Feedback(
        kind=kind,  # type: ignore[arg-type]
        source="pipe",
        verp_tag=verp.make_tag(settings, 0, subscriber_id),
        status="5.1.1" if kind == "hard_bounce" else None,
    )
    with db.session() as session:
        outcome = record_feedback(session, feedback, settings)
    assert outcome.action in (Action.SUPPRESSED, Action.UNSUBSCRIBED)


@pytest.mark.parametrize("kind", ["hard_bounce", "complaint"])
def test_nothing_reaches_a_suppressed_address(
    db: Database, config: Settings, channel: EmailChannel, smtp: MailServer, kind: str
) -> None:
    gone = add_subscriber(db, "gone@example.org")
    daily = add_subscriber(db, "daily-gone@example.org", mode="daily")
    fine = add_subscriber(db, "fine@example.org")
    # A newsletter planned before the report arrives...
    queued: list[Enqueue] = []
    plan_event(db, {"email": channel}, publish(db, 1), queued.append)
    _bounce(db, config, gone, kind)
    _bounce(db, config, daily, kind)
    # ... is not sent to it when its turn comes (nor when an operator requeues it).
    run_due(db, channel, [i for item in queued for i in item.delivery_ids])
    assert ledger(db) == {f"subscriber:{gone}": "suppressed", f"subscriber:{fine}": "succeeded"}
    assert attempts_of(db, f"subscriber:{gone}")[0].error_class == "E_ADDRESS_SUPPRESSED"
    # Later releases and digests do not plan it at all.
    assert list(channel.plan(publish(db, 2))) == [f"subscriber:{fine}"]
    assert [ids for ids in subscribers_in_mode(db, "daily")] == []
    # Asking again sends no confirmation (nor to another spelling of the mailbox). A
    # bounced mailbox gets no new preferences link either; a complainer's mailbox works,
    # and a new link is their way back (docs/bounces.md), which mails nothing by itself.
    with db.session() as session:
        for address in ("gone@example.org", "gone+news@example.org"):
            asked = request_subscription(session, address, Preferences())
            assert asked.mail is MailToSend.NOTHING
        links = new_links(session, "gone@example.org")
        assert (links is None) is (kind == "hard_bounce")
    assert [r.recipients for r in smtp.received] == [("fine@example.org",)]

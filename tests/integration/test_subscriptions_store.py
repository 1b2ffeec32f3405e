"""A subscriber's states and moves, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from syndicator.store.db import Database
from syndicator.store.models import Subscriber, SubscriberTopic, SubscriptionRequest
from syndicator.subscriptions import states
from syndicator.subscriptions.erasure import erase
from syndicator.subscriptions.importing import ImportRow, import_chunk
from syndicator.subscriptions.listing import iter_all
from syndicator.subscriptions.preferences import Preferences, load_preferences
from syndicator.subscriptions.states import ConfirmResult, MailToSend

ADDRESS = "resident@example.org"
ECONOMY = Preferences("daily", categories=("경제",))


def _subscribe(db: Database, prefs: Preferences = ECONOMY) -> states.SubscribeResult:
    with db.session() as session:
        return states.request_subscription(session, ADDRESS, prefs)


def _state(db: Database, subscriber_id: int) -> tuple[str, Preferences]:
    with db.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None
        return subscriber.status, load_preferences(session, subscriber)


def _confirm(db: Database, subscriber_id: int, request_id: int = 0) -> ConfirmResult:
    with db.session() as session:
        return states.confirm(session, subscriber_id, request_id)


def _version(db: Database, subscriber_id: int) -> int:
    with db.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None
        return subscriber.links_version


def test_subscribe_confirm_and_leave(db: Database) -> None:
    result = _subscribe(db)
    assert (result.mail, result.created) == (MailToSend.CONFIRM, True)
    assert _state(db, result.subscriber_id) == ("pending", ECONOMY)
    # Asking again while pending: a new confirmation, and the first request stands.
    again = _subscribe(db, Preferences("weekly"))
    assert (again.subscriber_id, again.mail, again.created) == (
        result.subscriber_id,
        MailToSend.CONFIRM,
        False,
    )
    assert again.request_id != result.request_id
    assert _state(db, result.subscriber_id) == ("pending", ECONOMY)
    # Each confirmation confirms what it was sent for: here the second request.
    assert _confirm(db, result.subscriber_id, again.request_id) is ConfirmResult.CONFIRMED
    assert _state(db, result.subscriber_id) == ("active", Preferences("weekly"))
    assert _confirm(db, result.subscriber_id, result.request_id) is ConfirmResult.ALREADY_ACTIVE
    assert _state(db, result.subscriber_id) == ("active", Preferences("weekly"))

    # Anyone may type the address: an active subscription is never changed that way.
    active = _subscribe(db, ECONOMY)
    assert active.mail is MailToSend.ALREADY_SUBSCRIBED
    assert _state(db, result.subscriber_id) == ("active", Preferences("weekly"))

    version = _version(db, result.subscriber_id)
    with db.session() as session:
        assert states.unsubscribe(session, result.subscriber_id)
        assert states.unsubscribe(session, result.subscriber_id)  # twice is fine
    assert _state(db, result.subscriber_id)[0] == "unsubscribed"
    # Leaving revokes every link mailed so far, once.
    assert _version(db, result.subscriber_id) == version + 1
    # An old confirmation link does not bring them back; a new request's link does.
    assert _confirm(db, result.subscriber_id, again.request_id) is ConfirmResult.NOT_PENDING
    back = _subscribe(db)
    assert back.mail is MailToSend.CONFIRM
    assert _confirm(db, result.subscriber_id, again.request_id) is ConfirmResult.NOT_PENDING
    assert _confirm(db, result.subscriber_id, back.request_id) is ConfirmResult.CONFIRMED
    assert _state(db, result.subscriber_id) == ("active", ECONOMY)


def test_a_preferences_link_changes_topics_but_a_leaver_must_confirm(db: Database) -> None:
    first = _subscribe(db)
    subscriber_id = first.subscriber_id
    _confirm(db, subscriber_id, first.request_id)
    both = Preferences("immediate", categories=("복지",), departments=("위생정책과",))
    with db.session() as session:
        result = states.change_preferences(session, subscriber_id, both)
    assert result == (states.PreferencesResult.SAVED, 0)
    assert _state(db, subscriber_id) == ("active", both)
    with db.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None and subscriber.every_release is False
        states.change_preferences(session, subscriber_id, Preferences())
        assert subscriber.every_release is True

    with db.session() as session:
        states.unsubscribe(session, subscriber_id)
        outcome, request_id = states.change_preferences(session, subscriber_id, both)
    # Not back on the spot: pending, topics untouched, until the mailbox confirms.
    assert outcome is states.PreferencesResult.CONFIRM and request_id
    assert _state(db, subscriber_id) == ("pending", Preferences())
    assert _confirm(db, subscriber_id, request_id) is ConfirmResult.CONFIRMED
    assert _state(db, subscriber_id) == ("active", both)


def test_a_new_link_revokes_the_old_ones_and_only_for_subscribers(db: Database) -> None:
    first = _subscribe(db)
    with db.session() as session:
        assert states.new_links(session, ADDRESS) is None  # pending: nothing to send
    _confirm(db, first.subscriber_id, first.request_id)
    with db.session() as session:
        assert states.link_is_current(session, first.subscriber_id, 0) is True
        assert states.new_links(session, ADDRESS) == (first.subscriber_id, 1)
        assert states.new_links(session, "nobody@example.org") is None
    with db.session() as session:
        assert states.link_is_current(session, first.subscriber_id, 0) is False
        assert states.link_is_current(session, first.subscriber_id, 1) is True


def test_erased_subscribers_are_gone_for_every_link(db: Database) -> None:
    subscriber_id = _subscribe(db).subscriber_id
    with db.session() as session:
        assert erase(session, subscriber_id, "test")
        assert not erase(session, 12345, "test")
    with db.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        assert subscriber is not None
        assert (subscriber.email, subscriber.status) == (None, "erased")
        assert subscriber.links_version == 1
        assert session.scalars(select(SubscriberTopic)).all() == []
        assert session.scalars(select(SubscriptionRequest)).all() == []
        assert states.change_preferences(session, subscriber_id, ECONOMY)[0] is (
            states.PreferencesResult.GONE
        )
        assert not states.unsubscribe(session, subscriber_id)
        assert states.link_is_current(session, subscriber_id, 1) is None
    assert _confirm(db, subscriber_id) is ConfirmResult.GONE
    # The address may subscribe again, as somebody new.
    assert _subscribe(db).subscriber_id != subscriber_id


def test_import_inserts_in_chunks_and_never_touches_existing_rows(db: Database) -> None:
    subscriber_id = _subscribe(db).subscriber_id
    rows = [ImportRow(n + 1, f"r{n}@example.org", ECONOMY) for n in range(2500)]
    rows.append(ImportRow(9999, ADDRESS, Preferences("weekly")))
    inserted = 0
    for start in range(0, len(rows), 1000):
        with db.session() as session:
            result = import_chunk(session, rows[start : start + 1000], True, "test")
        inserted += len(result.inserted_ids)
    assert inserted == 2500
    assert _state(db, subscriber_id) == ("pending", ECONOMY)
    everyone = list(iter_all(db, status="active", chunk=700))
    assert len(everyone) == 2500
    assert all(r.consent == "import_consented" and r.categories == ["경제"] for r in everyone)


def test_no_spelling_of_a_bounced_mailbox_is_sent_a_confirmation(db: Database) -> None:
    with db.session() as session:
        bounced = states.request_subscription(session, "Kim.Minsu@gmail.com", ECONOMY)
        session.get(Subscriber, bounced.subscriber_id).status = "suppressed"  # type: ignore[union-attr]
    for variant in ("kimminsu+news@googlemail.com", "KIM.MIN.SU@gmail.com"):
        with db.session() as session:
            assert states.request_subscription(session, variant, ECONOMY).mail is MailToSend.NOTHING
    # Another mailbox at the same provider is mailed as ever.
    with db.session() as session:
        other = states.request_subscription(session, "kim.minsu2@gmail.com", ECONOMY)
        assert other.mail is MailToSend.CONFIRM
        assert states.request_subscription(session, "x@example.org", ECONOMY).mail is (
            MailToSend.CONFIRM
        )


def test_the_resident_lifts_a_suppression_only_through_a_new_confirmation(
    db: Database,
) -> None:
    first = _subscribe(db)
    assert _confirm(db, first.subscriber_id, first.request_id) is ConfirmResult.CONFIRMED
    with db.session() as session:
        row = session.get(Subscriber, first.subscriber_id)
        assert row is not None
        row.status, row.suppressed_kind = "suppressed", "complaint"
    weekly = Preferences("weekly", departments=("교통정책과",))
    with db.session() as session:
        # Saving is not coming back: nothing changes for a suppressed subscriber.
        saved = states.change_preferences(session, first.subscriber_id, weekly)
        assert saved == (states.PreferencesResult.SUPPRESSED, 0)
    with db.session() as session:
        result, request_id = states.resume_after_suppression(session, first.subscriber_id, weekly)
    assert result is states.PreferencesResult.CONFIRM and request_id
    assert _state(db, first.subscriber_id) == ("pending", ECONOMY), "nothing until confirmed"
    with db.session() as session:
        again = states.resume_after_suppression(session, first.subscriber_id, weekly)
        assert again == (states.PreferencesResult.SAVED, 0), "nothing left to lift"
    assert _confirm(db, first.subscriber_id, request_id) is ConfirmResult.CONFIRMED
    assert _state(db, first.subscriber_id) == ("active", weekly)
    with db.session() as session:
        erase(session, first.subscriber_id, "test")
        gone = states.resume_after_suppression(session, first.subscriber_id, weekly)
        assert gone == (states.PreferencesResult.GONE, 0)


def test_a_complainer_may_ask_for_a_new_link_but_a_bounced_mailbox_is_sent_none(
    db: Database,
) -> None:
    first = _subscribe(db)
    with db.session() as session:
        row = session.get(Subscriber, first.subscriber_id)
        assert row is not None
        row.status, row.suppressed_kind = "suppressed", "hard_bounce"
    with db.session() as session:
        assert states.new_links(session, ADDRESS) is None
        row = session.get(Subscriber, first.subscriber_id)
        assert row is not None
        row.suppressed_kind = "complaint"  # their links were revoked: this is the way back
    with db.session() as session:
        assert states.new_links(session, ADDRESS) == (first.subscriber_id, 1)

"""Bounces and a complaint that come back as mail suppress exactly their addresses.

Newsletters go out through `syndicator run` (web, Celery worker, beat as processes) to a
real SMTP server (aiosmtpd), each from its own VERP envelope sender. What comes back
(a hard DSN, a feedback-loop complaint, three soft DSNs for one mailbox, an out-of-office
reply) is piped into `syndicator bounces ingest -` as a mail server would, one process
per mail, with the envelope recipient in ORIGINAL_RECIPIENT as Postfix sets it. The next
newsletter goes to exactly the others, and the admin API says why each was dropped."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from syndicator.store.db import Database
from syndicator.store.models import Delivery, OutboxEntry, Subscriber, utcnow
from tests.bounce_reports import arf_complaint, auto_reply, dsn
from tests.factories import make_event
from tests.mail_server import MailServer, Received, mails_to, running_mail_server
from tests.system import RunningSystem, system_env, wait_for

pytestmark = pytest.mark.slow

HARD, COMPLAINS, SOFT, AWAY, FINE = (
    f"{name}@example.org" for name in ("hard", "complains", "soft", "away", "fine")
)
EVERYONE = (HARD, COMPLAINS, SOFT, AWAY, FINE)
TOKEN_KEY = "bounce-test-key"


@pytest.fixture
def mail_system(
    tmp_path: Path, database_url: str, redis_url: str, cms_secret: str
) -> Iterator[tuple[RunningSystem, MailServer, dict[str, str]]]:
    with running_mail_server() as smtp:
        env = system_env(
            tmp_path,
            database_url,
            redis_url,
            cms_secret,
            SYNDICATOR_SMTP_URL=smtp.url,
            SYNDICATOR_TOKEN_KEYS=TOKEN_KEY,
            SYNDICATOR_BOUNCE_ADDRESS="bounces@news.example.kr",
        )
        running = RunningSystem(env, tmp_path / "system.log")
        try:
            yield running.start(), smtp, env
        finally:
            running.stop()


def _subscribe_everyone(database_url: str) -> None:
    with Database(database_url) as db, db.session() as session:
        for address in EVERYONE:
            session.add(
                Subscriber(
                    email=address,
                    status="active",
                    mode="immediate",
                    consent="import_consented",
                    confirmed_at=utcnow(),
                )
            )


def _settled(database_url: str, events: int) -> bool:
    """``events`` events in, every one planned, and no email row left to do."""
    with Database(database_url) as db, db.session() as session:
        planned = list(session.scalars(select(OutboxEntry.planned_at)))
        statuses = set(session.scalars(select(Delivery.status).where(Delivery.channel == "email")))
    done = len(planned) == events and None not in planned
    return done and not {"pending", "in_progress"} & statuses


def _pipe(
    env: dict[str, str], raw: bytes, envelope_to: str | None
) -> subprocess.CompletedProcess[bytes]:
    """What a mail server's alias does: the mail on stdin, the address in the env."""
    run_env = {k: v for k, v in {**os.environ, **env}.items() if k != "ORIGINAL_RECIPIENT"}
    if envelope_to:
        run_env["ORIGINAL_RECIPIENT"] = envelope_to
    return subprocess.run(
        [sys.executable, "-m", "syndicator", "bounces", "ingest", "-"],
        input=raw,
        env=run_env,
        capture_output=True,
        timeout=120,
        check=False,
    )


def _returned(received: Received, address: str, **how: str) -> bytes:
    return dsn(received.sender, address, received.raw, **how)


def test_bounces_and_a_complaint_suppress_exactly_their_addresses(
    mail_system: tuple[RunningSystem, MailServer, dict[str, str]], database_url: str
) -> None:
    system, smtp, env = mail_system
    _subscribe_everyone(database_url)
    for n, release_id in enumerate((901, 902, 903), start=1):
        assert system.publish(make_event(release_id)).status_code == 202
        wait_for(lambda n=n: _settled(database_url, n), 90, f"newsletter {n} to be sent")
    sent = {address: mails_to(smtp, address, 3) for address in EVERYONE}
    # Every message left from an envelope sender of its own.
    senders = [m.sender for mails in sent.values() for m in mails]
    assert len(set(senders)) == 15 and all(s.startswith("bounces+") for s in senders)

    returned = [
        (_returned(sent[HARD][0], HARD), sent[HARD][0].sender),
        # A feedback loop writes to its own address: the tag is only in the copy it returns.
        (arf_complaint(COMPLAINS, sent[COMPLAINS][1].raw), None),
        *(
            (
                _returned(mail, SOFT, status="4.2.2", diagnostic="452 4.2.2 Mailbox full"),
                mail.sender,
            )
            for mail in sent[SOFT]
        ),
        (auto_reply(sent[AWAY][0].sender), sent[AWAY][0].sender),
    ]
    for raw, envelope_to in returned:
        piped = _pipe(env, raw, envelope_to)
        assert piped.returncode == 0, piped.stderr.decode()
    again = _pipe(env, *returned[0])  # piped twice (a retry): kept once
    assert again.returncode == 0 and b"seen before" in again.stdout, again.stdout

    assert system.publish(make_event(904)).status_code == 202
    wait_for(lambda: _settled(database_url, 4), 90, "newsletter 4 to be sent")
    mails_to(smtp, FINE, 4)
    fourth = {address for address in EVERYONE if len(smtp.to(address)) == 4}
    assert fourth == {AWAY, FINE}, "exactly the bounced and complaining addresses skipped"

    answer = system.http.get(
        f"{system.url}/api/subscribers",
        params={"status": "suppressed"},
        headers={"Authorization": f"Bearer {env['SYNDICATOR_ADMIN_TOKEN']}"},
    )
    assert answer.status_code == 200, answer.text
    why = {
        item["email"]: (item["suppressed_kind"], item["suppressed_reason"])
        for item in answer.json()["items"]
    }
    assert set(why) == {HARD, COMPLAINS, SOFT}
    assert why[HARD][0] == "hard_bounce" and "5.1.1" in why[HARD][1]
    assert why[COMPLAINS][0] == "complaint"
    assert why[SOFT][0] == "soft_bounce" and "4.2.2" in why[SOFT][1]

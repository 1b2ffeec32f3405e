"""An operator notice through the whole system: a partner answers 410, a worker disables
it and writes the notice in the same transaction, beat's sweeper hands the notice to a
worker, a real SMTP server (aiosmtpd) refuses the first attempt and takes the retry. The
attempts are read back from /metrics and the console, the message with ``email``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from syndicator.intake.notices import post_notice
from syndicator.store.db import Database
from syndicator.store.models import Delivery
from tests.factories import make_event
from tests.integration.webhook_receiver import Reply, receiver
from tests.mail_server import mails_to, running_mail_server
from tests.system import RunningSystem, system_env, wait_for
from tests.unit.ledger.support import delivery_rows

ADMIN = {"Authorization": "Bearer admin-token-for-tests"}  # the running system
TEST_ADMIN = {"Authorization": "Bearer test-admin-token"}  # the app under `client`
OPS = "ops@press.example.kr"


def notice_attempts(system: RunningSystem) -> dict[str, float]:
    text = system.http.get(f"{system.url}/metrics", headers=ADMIN).text
    return {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "syndicator_delivery_attempts"
        for sample in family.samples
        if sample.labels.get("channel") == "notices" and sample.value
    }


def notice_view(system: RunningSystem, delivery_id: int) -> dict[str, Any]:
    answer = system.http.get(f"{system.url}/api/notices/{delivery_id}", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    view: dict[str, Any] = answer.json()
    return view


def test_a_disabled_partners_notice_survives_a_refused_first_attempt(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
) -> None:
    with receiver() as site, running_mail_server() as smtp:
        site.script("a", Reply(410))
        smtp.reply_to(OPS, "451 4.3.0 try again later")
        env = system_env(
            tmp_path,
            sqlite_url,
            redis_url,
            cms_secret,
            SYNDICATOR_SMTP_URL=smtp.url,
            SYNDICATOR_OPS_EMAIL=OPS,
            SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
            SYNDICATOR_MAIL_RETRY_SCHEDULE="1",
        )
        system = RunningSystem(env, tmp_path / "system.log").start()
        try:
            created = system.http.post(
                f"{system.url}/api/partners",
                json={"name": "연합뉴스", "url": site.url("a")},
                headers=ADMIN,
            )
            assert created.status_code == 201, created.text
            partner_id = created.json()["id"]
            assert system.publish(make_event(811)).status_code == 202

            (mail,) = mails_to(smtp, OPS, 1)
            message = mail.parsed()
            assert str(message["Subject"]) == "[syndicator] 협력사 웹훅 비활성화: 연합뉴스"
            assert f"syndicator partners enable {partner_id}" in message.get_content()
            outcomes = wait_for(
                lambda: (seen := notice_attempts(system)).get("succeeded") and seen,
                30,
                "the notice's success tallied",
            )
            assert outcomes == {"retrying": 1.0, "succeeded": 1.0}
            people = system.http.get(f"{system.url}/ops/people", headers=ADMIN).text
            assert "운영자 알림" in people and "E_SMTP_TEMPORARY" in people
            partner = system.http.get(f"{system.url}/api/partners/{partner_id}", headers=ADMIN)
            assert partner.json()["state"] == "disabled"

            (notice,) = system.http.get(f"{system.url}/api/notices", headers=ADMIN).json()
            assert notice["type"] == "partner.disabled" and notice["status"] == "succeeded"
            assert notice["about"]["partner_id"] == partner_id
            assert [(a["outcome"], a["status_code"]) for a in notice["attempts"]] == [
                ("retrying", 451),
                ("succeeded", 250),
            ]
            # An operator who lost the mail has it sent again, the same message.
            replay = system.http.post(
                f"{system.url}/api/notices/{notice['delivery_id']}/replay", headers=ADMIN
            )
            assert replay.status_code == 202, replay.text
            first, again = mails_to(smtp, OPS, 2)
            assert again.parsed()["Message-ID"] == first.parsed()["Message-ID"]
            shown = wait_for(
                lambda: (
                    (view := notice_view(system, notice["delivery_id"]))["attempt_count"] == 3
                    and view
                ),
                30,
                "the replay logged",
            )
            assert [a["trigger"] for a in shown["attempts"]] == ["scheduled", "scheduled", "manual"]
        finally:
            system.stop()


def test_only_notices_are_shown_or_replayed_as_notices(client: httpx.Client, store: Database):
    (partner_row,) = delivery_rows(store, 1)  # a partner delivery, not a notice
    with store.session() as session:
        notice = post_notice(
            session,
            "partner.disabled",
            {"partner_id": 1, "name": "n", "url": "https://p.example/", "reason": "410"},
        )
    for path in (f"/api/notices/{partner_row}", f"/api/notices/{partner_row + 1000}"):
        assert client.get(path, headers=TEST_ADMIN).status_code == 404
        assert client.post(f"{path}/replay", headers=TEST_ADMIN).status_code == 404
    assert client.get("/api/notices", headers=TEST_ADMIN).json()[0]["delivery_id"] == notice
    assert client.get("/api/notices").status_code == 401
    replayed = client.post(f"/api/notices/{notice}/replay", headers=TEST_ADMIN)
    assert replayed.status_code == 202 and replayed.json()["status"] == "pending"
    with store.session() as session:
        row = session.get(Delivery, notice)
        assert row is not None and row.trigger == "manual"

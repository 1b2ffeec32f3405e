"""Replay and recover through the whole system: the admin API, Celery workers, beat's
sweeper and a real partner (aiohttp), with signatures checked by `standardwebhooks`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook

from syndicator.store.models import utcnow
from tests.factories import make_event
from tests.integration.partner_system import ADMIN, api_deliveries, partner_system_env
from tests.integration.webhook_receiver import Receiver, Reply, receiver
from tests.system import RunningSystem, wait_for


def delivery(system: RunningSystem, partner_id: int, status: str) -> dict[str, Any] | None:
    found = api_deliveries(system, partner_id, status)
    return found[-1] if found else None


def verified_ids(site: Receiver, partner: str, secret: str) -> list[str]:
    """Every request's webhook-id, each signature checked by the independent library."""
    hook = Webhook(secret)
    for request in site.to(partner):
        hook.verify(request.body, request.headers)
    return [r.headers["webhook-id"] for r in site.to(partner)]


def test_replay_and_recover_resend_as_manual_attempts(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
):
    env = partner_system_env(
        tmp_path,
        sqlite_url,
        redis_url,
        cms_secret,
        SYNDICATOR_WEBHOOK_RETRY_SCHEDULE="1",  # two attempts, then failed
    )
    with receiver() as site:
        site.script("a", Reply(500), Reply(500))
        system = RunningSystem(env, tmp_path / "system.log").start()
        try:
            created = system.http.post(
                f"{system.url}/api/partners",
                json={"name": "연합뉴스", "url": site.url("a")},
                headers=ADMIN,
            )
            assert created.status_code == 201, created.text
            partner_id, secret = created.json()["id"], created.json()["secret"]
            start = utcnow()
            assert system.publish(make_event(701)).status_code == 202
            failed = wait_for(lambda: delivery(system, partner_id, "failed"), 90, "two failures")
            assert [a["trigger"] for a in failed["attempts"]] == ["scheduled", "scheduled"]

            # Replay: the partner answers 200 now.
            replay = system.http.post(
                f"{system.url}/api/deliveries/{failed['id']}/replay", headers=ADMIN
            )
            assert replay.status_code == 202, replay.text
            done = wait_for(lambda: delivery(system, partner_id, "succeeded"), 60, "the replay")
            attempts = done["attempts"]
            assert [(a["trigger"], a["status_code"]) for a in attempts] == [
                ("scheduled", 500),
                ("scheduled", 500),
                ("manual", 200),
            ]
            assert attempts[-1]["next_attempt_at"] is None
            # One delivery, one webhook-id on every try, every signature valid.
            ids = verified_ids(site, "a", secret)
            assert len(ids) == 3 and len(set(ids)) == 1 and attempts[-1]["message_id"] == ids[0]

            # Recover: a second release fails twice, then everything failed since is resent.
            site.script("a", Reply(500), Reply(500))
            assert system.publish(make_event(702)).status_code == 202
            second = wait_for(lambda: delivery(system, partner_id, "failed"), 90, "failures")
            recover = system.http.post(
                f"{system.url}/api/partners/{partner_id}/recover",
                params={"since": start.isoformat()},
                headers=ADMIN,
            )
            assert recover.status_code == 202 and recover.json()["resent"] == 1, recover.text

            def recovered() -> dict[str, Any] | None:
                shown = system.http.get(
                    f"{system.url}/api/deliveries/{second['id']}", headers=ADMIN
                ).json()
                return shown if shown["status"] == "succeeded" else None

            shown = wait_for(recovered, 60, "the recovery")
            assert [a["trigger"] for a in shown["attempts"]] == ["scheduled", "scheduled", "manual"]
            assert len(set(verified_ids(site, "a", secret))) == 2
        except BaseException:
            print(system.log_tail())
            raise
        finally:
            system.stop()

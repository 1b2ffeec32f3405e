"""In order per partner and release, through the whole system: the CMS hook, Celery
workers, beat's sweeper and a real partner (aiohttp) that fails the publish twice while
the update and the retraction already wait. Signatures checked by `standardwebhooks`,
bodies by the event catalog's order of types."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook

from tests.factories import make_event
from tests.integration.partner_system import ADMIN, api_deliveries, partner_system_env
from tests.integration.webhook_receiver import Reply, receiver
from tests.system import RunningSystem, wait_for


def test_an_update_waits_for_the_publish_it_corrects_and_the_retraction_comes_last(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
):
    env = partner_system_env(
        tmp_path, sqlite_url, redis_url, cms_secret, SYNDICATOR_WEBHOOK_RETRY_SCHEDULE="1,1,1"
    )
    second_try = threading.Event()
    with receiver() as site:
        # The publish fails twice; its second try is held in flight until the later events
        # are planned. Another release of the same partner answers at once.
        site.script("a", Reply(500), Reply(500, until=second_try))
        system = RunningSystem(env, tmp_path / "system.log").start()
        try:
            created = system.http.post(
                f"{system.url}/api/partners",
                json={"name": "연합뉴스", "url": site.url("a")},
                headers=ADMIN,
            )
            assert created.status_code == 201, created.text
            partner_id, secret = created.json()["id"], created.json()["secret"]
            assert system.publish(make_event(801)).status_code == 202
            wait_for(lambda: len(site.to("a")) >= 2, 90, "the publish's second try")

            fix = make_event(
                801,
                type="release.updated",
                title="고친 제목",
                updated_at="2030-01-01T09:00:00+09:00",
            )
            assert system.publish(fix).status_code == 202
            gone = make_event(801, type="release.retracted", updated_at="2030-01-02T09:00:00+09:00")
            assert system.publish(gone).status_code == 202
            # Meanwhile another release goes straight through.
            assert system.publish(make_event(802)).status_code == 202
            wait_for(lambda: len(api_deliveries(system, partner_id)) == 4, 60, "every row planned")
            wait_for(lambda: len(site.to("a")) >= 3, 60, "release 802 not held up")
            second_try.set()

            def settled() -> list[dict[str, Any]] | None:
                rows = api_deliveries(system, partner_id)
                return rows if all(d["status"] == "succeeded" for d in rows) else None

            rows = wait_for(settled, 90, "every delivery succeeded")
            hook = Webhook(secret)
            sent = []
            for request in site.to("a"):
                hook.verify(request.body, request.headers)
                body = json.loads(request.body)
                sent.append((body["type"], body["data"]["release"]["id"], request.answered))
            of_801 = [(kind, status) for kind, release, status in sent if release == 801]
            assert of_801 == [
                ("release.published", 500),
                ("release.published", 500),
                ("release.published", 200),
                ("release.updated", 200),
                ("release.retracted", 200),
            ]
            assert [s for s in sent if s[1] == 802] == [("release.published", 802, 200)]
            # The held rows spent no attempt while they waited.
            attempts = {d["event_type"]: len(d["attempts"]) for d in rows if d["release_id"] == 801}
            assert attempts == {
                "release.published": 3,
                "release.updated": 1,
                "release.retracted": 1,
            }
        except BaseException:
            print(system.log_tail())
            raise
        finally:
            second_try.set()
            system.stop()

"""The portal through the whole system: `syndicator run` (web, worker, beat) and a real
partner endpoint (aiohttp). A partner's test event and replay arrive signed, checked
with `standardwebhooks` and the catalog's JSON Schema (`jsonschema`)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from jsonschema import Draft202012Validator
from standardwebhooks.webhooks import Webhook

from syndicator.partners.catalog import json_schema
from tests.factories import make_event
from tests.integration.partner_system import ADMIN, api_deliveries, partner_system_env
from tests.integration.test_ops_console import form_fields
from tests.integration.webhook_receiver import receiver
from tests.system import RunningSystem, wait_for


def test_a_partner_sends_itself_a_test_event_and_replays_a_delivery(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
):
    env = partner_system_env(tmp_path, sqlite_url, redis_url, cms_secret)
    with receiver() as site:
        system = RunningSystem(env, tmp_path / "system.log").start()
        try:
            created = system.http.post(
                f"{system.url}/api/partners",
                json={"name": "연합뉴스", "url": site.url("a")},
                headers=ADMIN,
            )
            assert created.status_code == 201, created.text
            partner_id, secret = created.json()["id"], created.json()["secret"]
            assert system.publish(make_event(901)).status_code == 202
            wait_for(lambda: len(site.to("a")) == 1, 90, "the publish")
            link = system.http.post(
                f"{system.url}/api/partners/{partner_id}/portal-link", headers=ADMIN
            ).json()["url"]

            with httpx.Client(base_url=system.url, timeout=30) as portal:
                assert portal.get(link, follow_redirects=True).status_code == 200
                form = {"csrf_token": form_fields(portal.get("/portal").text)["csrf_token"]}
                assert portal.post("/portal/test", data=form).status_code == 200
                wait_for(lambda: len(site.to("a")) == 2, 60, "the test event")
                (published,) = [d for d in api_deliveries(system, partner_id) if d["release_id"]]
                replayed = portal.post(f"/portal/deliveries/{published['id']}/replay", data=form)
                assert replayed.status_code == 200, replayed.text
                wait_for(lambda: len(site.to("a")) == 3, 60, "the replay")
                log = portal.get("/portal/deliveries")
                assert "partner.test" in log.text and "release.published" in log.text

            hook = Webhook(secret)
            bodies = []
            for request in site.to("a"):
                hook.verify(request.body, request.headers)
                bodies.append((json.loads(request.body), request.headers["webhook-id"]))
            (first, first_id), (test, _), (again, again_id) = bodies
            assert test["type"] == "partner.test"
            assert test["data"]["partner"] == {"id": partner_id, "name": "연합뉴스"}
            Draft202012Validator(json_schema("partner.test")).validate(test)
            assert again == first and again_id == first_id  # the same message, resent
            Draft202012Validator(json_schema("release.published")).validate(again)
            rows = api_deliveries(system, partner_id)
            assert [d["attempts"][-1]["trigger"] for d in rows] == ["manual", "scheduled"]
        except BaseException:
            print(system.log_tail())
            raise
        finally:
            system.stop()

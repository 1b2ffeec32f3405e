"""One trace follows an event from the CMS hook, through the outbox and the fan-out task,
to the delivery, across the web, beat and worker processes (console exporter)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from tests.factories import make_event
from tests.integration.webhook_receiver import receiver
from tests.system import RunningSystem, stored_document, system_env, wait_for


def _spans(log: Path) -> list[dict[str, Any]]:
    spans = []
    for line in log.read_text(errors="replace").splitlines():
        start = line.find('{"otel_span"')
        if start >= 0:
            spans.append(json.loads(line[start:])["otel_span"])
    return spans


# The hook, the relay's send (in beat, from the outbox), the fan-out, the delivery task.
HOPS = {
    "POST /hooks/cms",
    "apply_async/workers.tasks.fanout",
    "run/workers.tasks.fanout",
    "apply_async/workers.tasks.deliver_pending",
    "run/workers.tasks.deliver_pending",
    # The partner's delivery task, and its request (aiohttp's client span).
    "run/workers.tasks.deliver",
    "POST",
}


def _trace_of_hook(log: Path) -> list[dict[str, Any]] | None:
    """The hook's trace once every hop is exported (each process exports in batches)."""
    by_trace: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in _spans(log):
        by_trace[span["context"]["trace_id"]].append(span)
    for spans in by_trace.values():
        if {s["name"] for s in spans} >= HOPS:
            return spans
    return None


def test_one_trace_runs_from_the_hook_to_the_delivery(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
) -> None:
    env = system_env(
        tmp_path,
        sqlite_url,
        redis_url,
        cms_secret,
        SYNDICATOR_OTEL_EXPORTER="console",
        SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
    )
    system = RunningSystem(env, tmp_path / "system.log")
    with receiver() as partner:
        try:
            system.start()
            created = system.http.post(
                f"{system.url}/api/partners",
                json={"name": "연합뉴스", "url": partner.url("a")},
                headers={"Authorization": "Bearer admin-token-for-tests"},
            )
            assert created.status_code == 201, created.text
            event = make_event(4242, title="추적되는 보도자료")
            assert system.publish(event).status_code == 202
            wait_for(
                lambda: "추적되는 보도자료".encode() in (stored_document(sqlite_url) or b""),
                what="the feed to show the release",
            )
            wait_for(lambda: partner.to("a"), what="the partner's delivery")
            spans = wait_for(lambda: _trace_of_hook(system.log_path), 60, "the spans exported")
        finally:
            system.stop()
    # The partner received the trace context with its delivery.
    (request,) = partner.to("a")
    hook_trace = spans[0]["context"]["trace_id"].removeprefix("0x")
    assert hook_trace in request.headers["traceparent"]
    services = {span["resource"]["attributes"]["service.name"] for span in spans}
    assert services == {"syndicator-web", "syndicator-beat", "syndicator-worker"}
    # Statements are traced too: the intake's INSERT and the delivery's ledger UPDATE.
    statements = [s for s in spans if s["attributes"].get("db.system")]
    assert any(s["name"].startswith("INSERT") for s in statements)
    # Each span's parent is in the trace: nothing is cut off on the way.
    ids = {span["context"]["span_id"] for span in spans}
    roots = [s for s in spans if s["parent_id"] is None or s["parent_id"] not in ids]
    assert [r["name"] for r in roots] == ["POST /hooks/cms"], [r["name"] for r in roots]

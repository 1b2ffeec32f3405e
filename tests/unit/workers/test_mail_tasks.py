"""Digests: each due run is planned once, on the email channel alone, then marked."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import workers.mail_tasks as mail_tasks


def test_each_due_digest_is_planned_on_email_and_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    planned: list[tuple[set[str], str]] = []
    marked: list[str] = []
    rt = SimpleNamespace(
        db=object(),
        settings=SimpleNamespace(digest_hour=8),
        channels={"email": "the email channel", "webhooks": "not for digests"},
    )
    monkeypatch.setattr(mail_tasks, "runtime", lambda: rt)
    monkeypatch.setattr(mail_tasks, "due_runs", lambda db, hour, now: ["d1", "gone", "d2"])
    monkeypatch.setattr(
        mail_tasks,
        "load_event",
        lambda db, event_id: None if event_id == "gone" else SimpleNamespace(id=event_id),
    )

    def plan(db: Any, channels: dict[str, Any], event: Any, enqueue: Any) -> dict[str, int]:
        planned.append((set(channels), event.id))
        return {"email": 3}

    monkeypatch.setattr(mail_tasks, "plan_event", plan)
    monkeypatch.setattr(
        mail_tasks, "mark_run_planned", lambda db, event_id: marked.append(event_id)
    )
    mail_tasks.digests()
    assert planned == [({"email"}, "d1"), ({"email"}, "d2")]
    assert marked == ["d1", "d2"]


def test_the_complaint_check_reads_its_limit_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checked: list[Any] = []
    rt = SimpleNamespace(
        db="the database",
        settings=SimpleNamespace(complaint_pause_percent=0.5, complaint_pause_min_sent=200),
    )
    monkeypatch.setattr(mail_tasks, "runtime", lambda: rt)
    monkeypatch.setattr(
        mail_tasks, "check_complaints", lambda db, limit: checked.append((db, limit))
    )
    mail_tasks.complaint_guard()
    assert checked == [("the database", mail_tasks.ComplaintLimit(0.5, 200))]

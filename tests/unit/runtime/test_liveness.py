"""Telling a gone worker process from a live one: on its own host at once (a pid reused
or a machine rebooted never passes for the old process), elsewhere by the heartbeat."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from syndicator.ledger.claims import claim
from syndicator.runtime.liveness import (
    LivenessBeat,
    ProcessIdentity,
    is_gone,
    process_key,
    release_lost,
)
from syndicator.store.db import Database
from syndicator.store.models import Delivery, WorkerProcess
from tests.system import wait_for
from tests.unit.ledger.support import delivery_rows

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="process keys come from /proc"
)


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield process
    process.kill()
    process.wait()


def _row(identity: ProcessIdentity, **changes: object) -> WorkerProcess:
    fields: dict[str, object] = {
        "id": identity.id,
        "host": identity.host,
        "pid": identity.pid,
        "process_key": identity.process_key,
    }
    return WorkerProcess(**{**fields, **changes})


def _identity_of(pid: int) -> ProcessIdentity:
    me = ProcessIdentity.current()
    key = process_key(pid)
    assert key is not None
    return ProcessIdentity(uuid.uuid4().hex, me.host, pid, key)


def test_a_running_process_is_not_gone_and_a_killed_one_is(sleeper: subprocess.Popen[bytes]):
    row = _row(_identity_of(sleeper.pid))
    assert not is_gone(row)
    assert not is_gone(_row(ProcessIdentity.current()))
    sleeper.kill()
    # Not reaped yet: a zombie, as a killed worker whose parent died too may stay a while.
    wait_for(lambda: "Z" in _state(sleeper.pid), 10, "the killed process to be a zombie")
    assert is_gone(row)
    sleeper.wait()
    assert is_gone(row)


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_reused_pid_or_a_reboot_never_passes_for_the_old_process():
    me = ProcessIdentity.current()
    boot, namespace, start = me.process_key.split("/")
    earlier_start = _row(me, process_key=f"{boot}/{namespace}/{int(start) - 1}")
    before_reboot = _row(me, process_key=f"another-boot/{namespace}/{start}")
    assert is_gone(earlier_start) and is_gone(before_reboot)


def test_what_this_host_cannot_see_is_left_to_the_heartbeat():
    me = ProcessIdentity.current()
    boot, _, start = me.process_key.split("/")
    assert not is_gone(_row(me, host="another-host", pid=999_999))
    other_namespace = _row(me, pid=999_999, process_key=f"{boot}/pid:[1]/{start}")
    assert not is_gone(other_namespace)  # another container that shares the host name
    assert not is_gone(_row(me, pid=999_999, process_key="-/-/999999"))  # no /proc there


def test_the_claims_of_a_killed_process_are_released_at_once(
    db: Database, sleeper: subprocess.Popen[bytes]
):
    """No heartbeat timeout to wait for: its own host sees the process is gone."""
    doomed = LivenessBeat(db, _identity_of(sleeper.pid), every=3600)
    doomed.register()
    ids = delivery_rows(db, 3)
    with db.session() as session:
        claim(session, ids, doomed.identity.id)
    assert release_lost(db, stale_after=timedelta(hours=1)) == []
    sleeper.kill()
    sleeper.wait()
    (released,) = release_lost(db, stale_after=timedelta(hours=1))
    assert released.reason == "gone" and released.deliveries == 3
    with db.session() as session:
        assert set(session.scalars(select(Delivery.status).where(Delivery.id.in_(ids)))) == {
            "pending"
        }


def test_a_heartbeat_keeps_the_row_fresh_and_a_clean_exit_marks_it_stopped(db: Database):
    live = LivenessBeat(db, ProcessIdentity.current(), every=3600)
    live.register()

    def row() -> WorkerProcess:
        with db.session() as session:
            found = session.get(WorkerProcess, live.identity.id)
            assert found is not None
            session.expunge(found)
            return found

    first = row().heartbeat_at
    live.beat_once()
    assert row().heartbeat_at >= first and row().stopped_at is None
    live.stop()
    assert row().stopped_at is not None
    with db.session() as session:  # pruned while away: the next beat registers it again
        session.delete(session.get(WorkerProcess, live.identity.id))
    live.beat_once()
    assert row().id == live.identity.id


def test_a_process_whose_heartbeats_fail_is_not_heard_until_they_get_through(db: Database):
    """What the sweeper asks before it calls other workers silent (workers/tasks.py)."""
    live = LivenessBeat(db, ProcessIdentity.current(), every=3600)
    live.register()
    assert live.beat_once() and live.heard_for() > 0
    live.db = Database("postgresql+psycopg://nobody@127.0.0.1:1/away")  # nothing listens
    assert not live.beat_once() and live.heard_for() == 0
    live.db = db
    back = time.monotonic()
    assert live.beat_once()
    assert 0 < live.heard_for() <= time.monotonic() - back  # counted from the return only


def test_a_process_whose_heartbeat_is_overdue_is_not_heard_either(db: Database):
    """A database too busy to take a heartbeat for two periods is as good as away."""
    live = LivenessBeat(db, ProcessIdentity.current(), every=0.01)  # never started
    live.register()
    assert live.beat_once() and live.heard_for() > 0
    wait_for(lambda: live.heard_for() == 0, 10, "the missing heartbeats to count")
    back = time.monotonic()
    assert live.beat_once()
    # Heard anew from the late heartbeat, not since the first: the others' heartbeats
    # were as late, and must not look silent to it (workers/tasks.py's sweep).
    assert 0 < live.heard_for() <= time.monotonic() - back

"""`make soak` (bench/soak.py) kept from rotting: a short run of the real thing, and its
verdicts (memory, drain, logs) on staged inputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.soak import schedule
from bench.soak_health import DrainState, scan_logs
from bench.soak_processes import MB, ProcessInfo, compare, peaks, snapshot

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("supervisor", "web", "worker", "worker child 1", "worker child 2", "beat", "redis")


def test_a_short_soak_of_all_three_channels_passes_and_reports_every_process():
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.soak",
            "--minutes",
            "0.25",
            "--warmup-minutes",
            "0.1",
            "--subscribers",
            "300",
            "--partners",
            "10",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = finished.stdout + finished.stderr
    assert finished.returncode == 0, out
    rows = {line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│")}
    assert set(ROLES) <= rows, out
    assert "0 errors" in out and "soak: PASS" in out
    assert "SMTP server received" in out and "verified" in out


def _process(pid: int, role: str, rss_mb: float, started: int = 100) -> ProcessInfo:
    return ProcessInfo(pid, 1, started, role, int(rss_mb * MB))


def test_growth_is_end_minus_start_and_a_replaced_child_is_set_against_its_slot():
    start = [_process(10, "web", 100), _process(11, "worker child 1", 100)]
    # Child 11 died and 12 took its place; 11 had reached 150 MB before it went.
    samples = [[_process(10, "web", 100), _process(11, "worker child 1", 150)]]
    end = [_process(10, "web", 125), _process(12, "worker child 1", 90, started=200)]
    rows = {row.role: row for row in compare(start, end, peaks([*samples, end]))}
    assert rows["web"].grew == 25 * MB
    child = rows["worker child 1"]
    assert (child.pid, child.replaced, child.grew) == (12, 11, -10 * MB)


def test_a_process_gone_at_the_end_is_reported_gone():
    start = [_process(10, "beat", 100)]
    (row,) = compare(start, [], peaks([start]))
    assert row.end is None


def test_snapshot_reads_this_process_tree_from_proc():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        found = {p.pid: p for p in snapshot(child.pid)}
        assert found[child.pid].rss > MB
    finally:
        child.kill()
        child.wait()


def test_drained_needs_every_queue_outbox_and_ledger_row_final():
    final = {"email": {"succeeded": 5, "failed": 1}}
    assert DrainState({"email": 0}, 0, 0, 0, final).drained
    assert not DrainState({"email": 1}, 0, 0, 0, final).drained
    assert not DrainState({"email": 0}, 1, 0, 0, final).drained
    assert not DrainState({"email": 0}, 0, 1, 0, final).drained
    assert not DrainState({"email": 0}, 0, 0, 1, final).drained
    for status in ("pending", "in_progress"):
        ledger = {"webhooks": {"succeeded": 5, status: 1}}
        assert not DrainState({"email": 0}, 0, 0, 0, ledger).drained


def test_the_log_scan_finds_errors_and_tracebacks_and_passes_info(tmp_path):
    log = tmp_path / "system.log"
    log.write_text(
        "2026-12-06T00:00:00+0000 INFO syndicator.delivery msg=ok\n"
        "2026-12-06T00:00:01+0000 ERROR celery.worker msg=boom\n"
        "Traceback (most recent call last):\n"
        "2026-12-06T00:00:02+0000 WARNING syndicator.mail msg=slow\n"
        "2026-12-06T00:00:03+0000 CRITICAL syndicator.run msg=down\n"
    )
    redis_log = tmp_path / "redis.log"
    redis_log.write_text("1:M 06 Dec 2026 00:00:00.000 # Background AOF rewrite error\n")
    found = scan_logs(log, redis_log)
    assert len(found.errors) == 4 and len(found.warnings) == 1


def test_the_schedule_spreads_each_kind_over_every_minute():
    plan = schedule(2, partner_releases=20, feed_releases=10)
    kinds = [kind for _, kind in plan]
    assert (kinds.count("newsletter"), kinds.count("partners"), kinds.count("feeds")) == (
        2,
        40,
        20,
    )
    assert all(0 <= at < 120 for at, _ in plan)
    assert [at for at, _ in plan] == sorted(at for at, _ in plan)

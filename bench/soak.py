"""The soak: all three channels at once, for ``--minutes`` (10), on one `syndicator run`.

    python -m bench.soak [--minutes 10]          # make soak

What runs: `syndicator run` as an operator starts it (supervisor, web, one worker of three
prefork processes on every queue, beat, the embedded Redis), on SQLite, with an aiosmtpd
server and 200 aiohttp partners in processes of their own (bench/soak_receivers.py).
Every minute, published through the signed CMS hook:

- one release that 20,000 subscribers follow (its department): a newsletter;
- 20 releases, evenly spaced, to the 200 partners (who follow the other departments);
- 10 releases that only the feeds carry, evenly spaced; every release above re-renders
  the feeds too, so feeds publish throughout.

Warm-up, then "start": first one newsletter, two partner releases and a feed release are
published at once and drained. That first round imports the delivery code, compiles the
templates, opens the SMTP and HTTP pools and grows the allocators to the load's working
set, in every process: one-time costs, not growth. The start RSS is read after it, with
everything drained; the end RSS is read once the load has drained again, so both readings
find the system in the same state. Each process may grow by at most 20 MB
(bench/soak_processes.py says how prefork children are tracked).

At the end the queues, the outbox and the ledger must be drained, no delivery failed,
the receivers must have what the ledger says was delivered, the public RSS feed must show
the last release, and no process may have logged an ERROR. Exit 0 when all of that holds.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import feedparser
import httpx
import redis
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import insert

from bench.common import DEPARTMENTS, KST, synthetic_event
from bench.soak_health import (
    DrainState,
    channel_times,
    drain_state,
    scan_logs,
    wait_drained,
)
from bench.soak_processes import MB, Growth, ProcessInfo, compare, peaks, snapshot, table_rows
from bench.soak_receivers import Counts, Receivers, running_receivers
from syndicator.config import load_settings
from syndicator.events.signing import generate_secret
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import Subscriber, SubscriberTopic, utcnow
from tests.system import RunningSystem, wait_for

CEILING_GROWTH_MB = 20.0
ADMIN_TOKEN = "soak-admin-token"
# Who follows what: subscribers one department, partners six others, the feeds all.
NEWSLETTER_DEPARTMENT = DEPARTMENTS[6]  # 시민안전실
FEED_ONLY_DEPARTMENT = DEPARTMENTS[7]
PARTNER_DEPARTMENTS = DEPARTMENTS[:6]
RSS_SAMPLE_SECONDS = 5.0
PROGRESS_SECONDS = 1.0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description="All three channels at once on one `syndicator run`: RSS of every "
        "process at the start and the end (at most +20 MB each), then queues, outbox and "
        "ledger drained and no ERROR in any log. Exit 0 when all of that holds.",
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="load duration (10)")
    parser.add_argument("--subscribers", type=int, default=20_000, help="newsletter size")
    parser.add_argument("--partners", type=int, default=200, help="webhook partners")
    parser.add_argument(
        "--partner-releases", type=int, default=20, help="releases to partners per minute"
    )
    parser.add_argument("--feed-releases", type=int, default=10, help="feed-only per minute")
    parser.add_argument(
        "--warmup-minutes",
        type=float,
        default=1.0,
        help="the same load first, drained before the start readings (1)",
    )
    parser.add_argument(
        "--drain-minutes", type=float, default=10.0, help="how long draining may take (10)"
    )
    return parser.parse_args(argv)


@dataclass
class Workload:
    """What was published: one sequence of release ids; the kind picks the department."""

    published: dict[str, int] = field(
        default_factory=lambda: {"newsletter": 0, "partners": 0, "feeds": 0}
    )
    last_release: int = 0
    _next: int = 100_000

    def event(self, kind: str) -> dict:
        self._next += 1
        department = {
            "newsletter": NEWSLETTER_DEPARTMENT,
            "feeds": FEED_ONLY_DEPARTMENT,
            "partners": PARTNER_DEPARTMENTS[self._next % len(PARTNER_DEPARTMENTS)],
        }[kind]
        event = synthetic_event(self._next, datetime.now(KST), self._next).model_dump(mode="json")
        event["release"]["department"] = department
        self.published[kind] += 1
        self.last_release = self._next
        return event


def schedule(minutes: float, partner_releases: int, feed_releases: int) -> list[tuple[float, str]]:
    """(seconds from the start, kind) for every publish, in order."""
    plan: list[tuple[float, str]] = []
    for minute in range(math.ceil(minutes)):
        base = minute * 60.0
        plan.append((base, "newsletter"))
        spacing = 60 / partner_releases
        plan += [(base + (k + 0.5) * spacing, "partners") for k in range(partner_releases)]
        plan += [(base + (k + 0.25) * 60 / feed_releases, "feeds") for k in range(feed_releases)]
    return sorted(item for item in plan if item[0] < minutes * 60)


def add_subscribers(db: Database, count: int) -> None:
    """Confirmed, immediate subscribers of the newsletter's department (not of everything)."""
    now = utcnow()
    with db.session() as session:
        for first in range(0, count, 5_000):
            numbers = range(first, min(count, first + 5_000))
            rows = session.execute(
                insert(Subscriber).returning(Subscriber.id),
                [
                    {
                        "email": f"soak{n}@example.org",
                        "status": "active",
                        "mode": "immediate",
                        "every_release": False,
                        "consent": "import_consented",
                        "created_at": now,
                        "updated_at": now,
                        "confirmed_at": now,
                    }
                    for n in numbers
                ],
            )
            ids = list(rows.scalars())
            session.execute(
                insert(SubscriberTopic),
                [
                    {"subscriber_id": i, "kind": "department", "name": NEWSLETTER_DEPARTMENT}
                    for i in ids
                ],
            )


def register_partners(system: RunningSystem, receivers: Receivers, count: int) -> dict[str, str]:
    """Partners through the admin API, as an operator adds them: name -> signing secret."""
    secrets = {}
    headers = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    for n in range(count):
        answer = system.http.post(
            f"{system.url}/api/partners",
            headers=headers,
            json={
                "name": f"협력사 {n}",
                "url": receivers.partner_url(str(n)),
                "departments": list(PARTNER_DEPARTMENTS),
            },
        )
        assert answer.status_code == 201, answer.text
        secrets[str(n)] = answer.json()["secret"]
    return secrets


class Soak:
    def __init__(self, args: argparse.Namespace, tmp: Path, receivers: Receivers) -> None:
        self.args = args
        self.tmp = tmp
        self.receivers = receivers
        data = tmp / "var"
        data.mkdir()
        self.database_url = f"sqlite:///{data / 'syndicator.db'}"
        env = {
            "SYNDICATOR_DATA_DIR": str(data),
            "SYNDICATOR_DATABASE_URL": self.database_url,
            "SYNDICATOR_CMS_SECRET": generate_secret(),
            "SYNDICATOR_ADMIN_TOKEN": ADMIN_TOKEN,
            "SYNDICATOR_TOKEN_KEYS": "soak-token-key",
            "SYNDICATOR_SMTP_URL": receivers.smtp_url,
            "SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "SYNDICATOR_LOG_FORMAT": "text",
            "SYNDICATOR_LOG_LEVEL": "INFO",
        }
        self.settings = load_settings(env)
        self.system = RunningSystem(env, tmp / "system.log")
        # `syndicator run` starts its embedded Redis only when no Redis is configured.
        self.system.env.pop("SYNDICATOR_REDIS_URL", None)
        self.workload = Workload()
        self.samples: list[list[ProcessInfo]] = []
        self.db: Database | None = None
        self.client: redis.Redis | None = None

    @property
    def root(self) -> int:
        assert self.system.process is not None
        return self.system.process.pid

    def publish(self, kind: str) -> None:
        answer = self.system.publish(self.workload.event(kind))
        assert answer.status_code == 202, answer.text

    def sample(self) -> list[ProcessInfo]:
        taken = snapshot(self.root)
        self.samples.append(taken)
        return taken


def _counts_line(counts: Counts, state: DrainState | None) -> str:
    line = f"mail {counts.mail:,} · webhooks {counts.hooks:,}"
    if state is not None:
        feeds = state.delivered("feeds")
        queued = sum(state.queued.values())
        line += f" · feed deliveries {feeds:,} · waiting {state.unfinished:,} rows, {queued} tasks"
    return line


def run_load(soak: Soak, console: Console, minutes: float, label: str) -> float:
    """Publish the schedule for ``minutes``; returns the seconds it took."""
    assert soak.db is not None and soak.client is not None
    args = soak.args
    plan = schedule(minutes, args.partner_releases, args.feed_releases)
    total = minutes * 60
    started = time.monotonic()
    next_sample = next_progress = started
    minute_marks = iter(range(1, int(total // 60) + 1))
    next_minute = next(minute_marks, None)
    columns = (
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("starting", total=total)
        for at, kind in (*plan, (total, "end")):
            while True:
                now = time.monotonic()
                if now >= next_sample:
                    soak.sample()
                    next_sample += RSS_SAMPLE_SECONDS
                if now >= next_progress:
                    state = drain_state(soak.db, soak.client)
                    line = _counts_line(soak.receivers.counts(), state)
                    progress.update(task, completed=min(total, now - started), description=line)
                    next_progress += PROGRESS_SECONDS
                    if next_minute is not None and now - started >= next_minute * 60:
                        progress.console.print(f"{label} minute {next_minute}: {line}")
                        next_minute = next(minute_marks, None)
                wait = started + at - time.monotonic()
                if wait <= 0:
                    break
                # A load generator's clock: the next publish, sample or progress line.
                time.sleep(min(wait, max(0.0, min(next_sample, next_progress) - now), 0.5))
            if kind != "end":
                soak.publish(kind)
        progress.update(task, completed=total)
    return time.monotonic() - started


def _rss_table(rows: list[tuple[str, ...]]) -> Table:
    table = Table(title="RSS per process (MB; start after warm-up, end after drain)")
    for name in ("process", "pid", "start", "end", "growth", "peak"):
        table.add_column(name, justify="left" if name in ("process", "pid") else "right")
    for row in rows:
        table.add_row(*row)
    return table


def _feed_shows(url: str, release: int) -> bool:
    parsed = feedparser.parse(httpx.get(f"{url}/feeds/rss.xml", timeout=10).content)
    return any(str(release) in entry.get("link", "") for entry in parsed.entries)


def soak(args: argparse.Namespace, console: Console) -> bool:
    with (
        tempfile.TemporaryDirectory(prefix="syndicator-soak-") as name,
        running_receivers() as receivers,
    ):
        tmp = Path(name)
        run = Soak(args, tmp, receivers)
        upgrade(run.database_url)
        run.db = Database(run.database_url)
        add_subscribers(run.db, args.subscribers)
        console.print(
            f"soak: {args.subscribers:,} subscribers, {args.partners} partners; every minute "
            f"1 newsletter, {args.partner_releases} partner releases, {args.feed_releases} "
            f"feed-only releases, for {args.minutes:g} min"
        )
        run.system.start()
        try:
            return _soak_running(run, console)
        finally:
            run.system.stop()
            if run.client is not None:
                run.client.close()
            run.db.dispose()


def _soak_running(run: Soak, console: Console) -> bool:
    args, receivers = run.args, run.receivers
    assert run.db is not None
    receivers.start_partners(register_partners(run.system, receivers, args.partners))
    run.client = redis.Redis(unix_socket_path=str(run.settings.embedded_redis_socket))
    drain_seconds = args.drain_minutes * 60

    # Warm-up: the same load, drained; then the start readings.
    run_load(run, console, args.warmup_minutes, "warm-up")
    warm = wait_drained(run.db, run.client, drain_seconds)
    if not warm.drained:
        console.print(f"[red]warm-up did not drain[/]: {warm.summary()}")
        return False
    warm_published = sum(run.workload.published.values())
    load_started = utcnow()
    run.samples.clear()
    start_rss, start_state, start_counts = run.sample(), warm, receivers.counts()
    console.print(f"warm-up drained; start: {_counts_line(start_counts, warm)}")

    load_seconds = run_load(run, console, args.minutes, "soak")
    load_ended = time.monotonic()
    end_state = wait_drained(run.db, run.client, drain_seconds)
    drain_seconds_taken = time.monotonic() - load_ended
    end_rss = run.sample()
    end_counts = receivers.counts()

    rows = compare(start_rss, end_rss, peaks(run.samples))
    console.print(_rss_table(table_rows(rows)))
    grown = [r for r in rows if r.end is None or r.grew > CEILING_GROWTH_MB * MB]

    soak_seconds = load_seconds + drain_seconds_taken
    mail = end_state.delivered("email") - start_state.delivered("email")
    hooks = end_state.delivered("webhooks") - start_state.delivered("webhooks")
    feeds = end_state.delivered("feeds") - start_state.delivered("feeds")
    published = run.workload.published
    console.print(
        f"load: {load_seconds:.0f} s; drained {drain_seconds_taken:.0f} s after the last publish"
    )
    console.print(
        f"newsletter: {mail:,} messages delivered, {mail / soak_seconds:,.0f}/s from the first "
        f"publish to drained; SMTP server received {end_counts.mail - start_counts.mail:,}"
    )
    console.print(
        f"webhooks: {hooks:,} deliveries, {hooks / soak_seconds:,.0f}/s over the run; partners "
        f"verified {end_counts.hooks - start_counts.hooks:,} signatures "
        f"({end_counts.hooks_unique - start_counts.hooks_unique:,} distinct webhook-ids)"
    )
    console.print(
        f"feeds: {feeds:,} feed deliveries (coalesced renders) for "
        f"{sum(published.values()) - warm_published:,} releases published during the load"
    )
    for times in channel_times(run.db, load_started):
        console.print(times.line())
    console.print(f"drain: {end_state.summary()}")

    logs = scan_logs(run.system.log_path, run.settings.embedded_redis_dir / "redis.log")
    console.print(
        f"logs: {logs.lines:,} lines, {len(logs.errors)} errors, {len(logs.warnings)} warnings"
    )
    for line in logs.errors[:50]:
        console.print(f"  [red]{line}[/]", markup=True, highlight=False)
    for line in logs.warnings[:10]:
        console.print(f"  [yellow]{line}[/]", markup=True, highlight=False)

    failures = _failures(run, end_state, end_counts, grown, logs.errors)
    for failure in failures:
        console.print(f"[red]FAIL[/] {failure}")
    console.print("soak: " + ("[green]PASS[/]" if not failures else "[red]FAIL[/]"))
    return not failures


def _failures(
    run: Soak, state: DrainState, counts: Counts, grown: list[Growth], errors: list[str]
) -> list[str]:
    found = [
        f"{r.role} grew {r.grew / MB:+.1f} MB (limit +{CEILING_GROWTH_MB:g})"
        if r.end is not None
        else f"{r.role} (pid {r.pid}) is gone"
        for r in grown
    ]
    if not state.drained:
        found.append(f"not drained: {state.summary()}")
    failed = {c: by.get("failed", 0) for c, by in state.deliveries.items() if by.get("failed")}
    if failed:
        found.append(f"deliveries failed: {failed}")
    if counts.mail < state.delivered("email"):
        found.append(f"SMTP server has {counts.mail:,} of {state.delivered('email'):,} messages")
    if counts.mail_bad:
        found.append(f"{counts.mail_bad} of {counts.mail_checked} checked messages malformed")
    if counts.hooks_unique < state.delivered("webhooks") or counts.hooks_bad:
        found.append(
            f"partners have {counts.hooks_unique:,} of {state.delivered('webhooks'):,} "
            f"deliveries; {counts.hooks_bad} refused"
        )
    try:
        wait_for(
            lambda: _feed_shows(run.system.url, run.workload.last_release), 30, "the last release"
        )
    except AssertionError:
        found.append(f"the RSS feed lacks release {run.workload.last_release}")
    if errors:
        found.append(f"{len(errors)} ERROR lines in the logs")
    return found


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    # Captured output (make soak > file, the test) keeps whole lines and the table.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    return 0 if soak(args, console) else 1


if __name__ == "__main__":
    raise SystemExit(main())

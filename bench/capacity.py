"""The capacity model from a fresh, short run: ``python -m bench --only capacity``.

Measures what one newsletter message, one partner webhook call and one feed render cost,
in this process: the worker's own code (channel, runner and ledger, as bench/webhooks.py's
delivery path measures it; no Celery) against real receivers (postfix's smtp-sink, and
the webhooks bench's partner, which answers after 50 ms), with an embedded Redis.
Messages and calls are recorded in a private PostgreSQL cluster (tests/chaos/services.py;
SQLite where its binaries are missing), so that its CPU and WAL are this run's alone;
renders run on bench/feed_update.py's SQLite store.

Each cost is, per unit: this process's CPU time (user + system, every thread: the SMTP
connection threads too); PostgreSQL's (the postmaster and its children, from /proc; a
backend or autovacuum worker that exits within the run takes its share with it); the
writes counted at the driver (INSERT, UPDATE and DELETE statements, the rows they changed,
the transactions that wrote); the WAL written; and Redis commands besides Celery's.
Planning is included: a unit's share of its fan-out. The first batch of each channel warms
its connections and caches and is left out. Then bench/capacity_model.py turns the costs
into workers, database and Redis for docs/capacity.md's load and prints the table. Fails
if that load does not fit the one PostgreSQL primary and the one Redis the model assumes.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import psycopg
import redis
from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection

from bench.capacity_model import DEFAULT_LIMITS, DEFAULT_LOAD, Channel, UnitCost, plan, render_table
from bench.common import synthetic_events
from bench.feed_update import _open_store
from bench.newsletter import SINK, TOKEN_KEY, _cpu_seconds, add_subscribers, smtp_sink
from bench.webhooks import ENCRYPTION_KEY, add_partners, receiver, settled_heap
from syndicator.channels.base import Channel as DeliveryChannel
from syndicator.channels.base import ChannelContext
from syndicator.channels.email import EmailChannel
from syndicator.channels.webhooks import WebhooksChannel
from syndicator.config import load_settings
from syndicator.delivery.aio import close_channels
from syndicator.delivery.runner import Enqueue, load_event, plan_event, run_due
from syndicator.feeds.publish import publish_changes
from syndicator.intake.accept import store_event
from syndicator.runtime.embedded_redis import EmbeddedRedis
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import Delivery
from tests.chaos.services import PG_BIN, PostgresCluster, postgres_cluster
from tests.processes import children_of

# Short: a few seconds of CPU each on the 2-core development machine.
RECIPIENTS = 2_000
WEBHOOK_EVENTS = 6  # x 200 partners (bench/webhooks.py)
RENDERS = 8
_WRITES = ("INSERT", "UPDATE", "DELETE")


@dataclass
class Tally:
    cpu_seconds: float = 0.0
    statements: int = 0
    rows: int = 0
    commits: int = 0
    redis_commands: int = 0
    db_cpu_seconds: float = 0.0
    wal_bytes: int = 0

    def per(self, units: int) -> UnitCost:
        return UnitCost(**{f.name: getattr(self, f.name) / units for f in fields(self)})

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


class WriteCounter:
    """Counts what the database is asked to write, at the driver (every session, every
    statement the ORM or Core sends), while :meth:`counting`."""

    def __init__(self, db: Database, server: Server | None = None) -> None:
        self.active: Tally | None = None
        self.server = server
        event.listen(db.engine, "after_cursor_execute", self._executed)
        event.listen(db.engine, "commit", self._committed)
        event.listen(db.engine, "rollback", self._rolled_back)

    def _executed(self, conn: Connection, cursor: Any, statement: str, *_: Any, **__: Any) -> None:
        if self.active is None or not statement.lstrip().upper().startswith(_WRITES):
            return
        self.active.statements += 1
        self.active.rows += max(cursor.rowcount, 0)
        conn.info["wrote"] = True

    def _committed(self, conn: Connection) -> None:
        if self.active is not None and conn.info.pop("wrote", False):
            self.active.commits += 1

    def _rolled_back(self, conn: Connection) -> None:
        conn.info.pop("wrote", None)

    @contextmanager
    def counting(self, client: redis.Redis | None = None) -> Iterator[Tally]:
        tally = Tally()
        commands = _commands(client)
        db_cpu, wal = self.server.readings() if self.server else (0.0, 0)
        self.active = tally
        started = time.process_time()
        try:
            yield tally
        finally:
            tally.cpu_seconds = time.process_time() - started
            self.active = None
            if self.server:
                now_cpu, now_wal = self.server.readings()
                tally.db_cpu_seconds, tally.wal_bytes = now_cpu - db_cpu, now_wal - wal
            # Less one: the INFO that reads the count is itself counted.
            tally.redis_commands = max(0, _commands(client) - commands - 1) if client else 0


class Server:
    """A private PostgreSQL cluster (tests/chaos/services.py), so that its CPU and its WAL
    are this run's alone: one database per measurement."""

    def __init__(self, cluster: PostgresCluster) -> None:
        self.cluster = cluster
        self.admin = f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres"

    def database(self, name: str) -> str:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.cluster.port}/{name}"

    def readings(self) -> tuple[float, int]:
        """CPU seconds of the postmaster and every process under it (backends, the WAL
        writer, the checkpointer), and the WAL position in bytes."""
        pid = int((self.cluster.data / "postmaster.pid").read_text().split()[0])
        cpu = sum(_process_cpu(p) for p in [pid, *children_of(pid)])
        with psycopg.connect(self.admin, autocommit=True) as conn:
            row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')").fetchone()
        return cpu, int(row[0]) if row else 0


def _process_cpu(pid: int) -> float:
    try:
        return _cpu_seconds(pid)
    except (OSError, IndexError):  # a backend that just exited
        return 0.0


def _commands(client: redis.Redis | None) -> int:
    return int(client.info("stats")["total_commands_processed"]) if client else 0


@contextmanager
def _delivery_setup(
    tmp: Path, env: dict[str, str], postgres: Server | None
) -> Iterator[tuple[Database, Any, redis.Redis]]:
    server = EmbeddedRedis(tmp / "redis", tmp / "redis" / "redis.sock")
    database_url = postgres.database(tmp.name) if postgres else f"sqlite:///{tmp / 'capacity.db'}"
    upgrade(database_url)
    db = Database(database_url)
    settings = load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(tmp / "var"),
            "SYNDICATOR_DATABASE_URL": database_url,
            "SYNDICATOR_REDIS_URL": server.start(),
            "SYNDICATOR_ENCRYPTION_KEYS": ENCRYPTION_KEY,
            "SYNDICATOR_TOKEN_KEYS": TOKEN_KEY,
            **env,
        }
    )
    client = redis.Redis.from_url(settings.redis_url or "")
    try:
        yield db, settings, client
    finally:
        client.close()
        db.dispose()
        server.stop()


def _plan(db: Database, channel: DeliveryChannel, release_id: int) -> list[int]:
    (stored,) = list(synthetic_events(1, start_id=release_id))
    with db.session() as session:
        result = store_event(
            session, stored, webhook_id=f"capacity_{release_id}", source="hook", enqueue=True
        )
    loaded = load_event(db, result.event_id)
    assert loaded is not None
    planned: list[Enqueue] = []
    plan_event(db, {channel.name: channel}, loaded, planned.append)
    return [i for item in planned for i in item.delivery_ids]


def _deliver(
    db: Database,
    channel: DeliveryChannel,
    counter: WriteCounter,
    client: redis.Redis,
    plan_for: Callable[[], list[int]],
) -> tuple[UnitCost, int]:
    """Plan (counted), deliver the first batch (not counted), the rest counted: the cost
    of one unit, its planning spread over every unit planned."""
    with settled_heap():
        with counter.counting(client) as planning:
            rows = plan_for()
        first = channel.batch_size
        run_due(db, channel, rows[:first])
        with counter.counting(client) as delivering:
            for start in range(first, len(rows), channel.batch_size):
                run_due(db, channel, rows[start : start + channel.batch_size])
    delivered = len(rows) - first
    assert delivered > 0, f"{channel.name}: only {len(rows)} rows planned"
    _succeeded(db, channel.name, len(rows))
    cost, rest = asdict(planning.per(len(rows))), asdict(delivering.per(delivered))
    return UnitCost(**{name: cost[name] + rest[name] for name in cost}), len(rows)


def _succeeded(db: Database, channel: str, expected: int) -> None:
    """Every row delivered: a failure's cost (a retry later) is not what is measured."""
    with db.read_session() as session:
        query = select(func.count()).where(
            Delivery.channel == channel, Delivery.status == "succeeded"
        )
        done = int(session.scalar(query) or 0)
    assert done == expected, f"{channel}: {done} of {expected} delivered"


def _format(env: dict[str, str], **values: object) -> dict[str, str]:
    return {name: value.format(**values) for name, value in env.items()}


def measure_mail(tmp: Path, postgres: Server | None) -> UnitCost:
    env = {"SYNDICATOR_SMTP_URL": "smtp://127.0.0.1:{port}"}
    with smtp_sink() as port, _delivery_setup(tmp, _format(env, port=port), postgres) as setup:
        db, settings, client = setup
        add_subscribers(db, RECIPIENTS)
        channel = EmailChannel(ChannelContext(settings, db, client))
        counter = WriteCounter(db, postgres)
        try:
            cost, planned = _deliver(db, channel, counter, client, lambda: _plan(db, channel, 1))
        finally:
            close_channels([channel])
    assert planned == RECIPIENTS, planned
    return cost


def measure_webhooks(tmp: Path, postgres: Server | None) -> UnitCost:
    env = {"SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"}
    with receiver(tmp / "receiver") as (base, _), _delivery_setup(tmp, env, postgres) as setup:
        db, settings, client = setup
        add_partners(db, base)
        channel = WebhooksChannel(ChannelContext(settings, db, client))
        counter = WriteCounter(db, postgres)

        def plan_all() -> list[int]:
            return [i for n in range(WEBHOOK_EVENTS) for i in _plan(db, channel, 100 + n)]

        try:
            cost, _ = _deliver(db, channel, counter, client, plan_all)
        finally:
            close_channels([channel])
    return cost


def measure_render(tmp: Path) -> UnitCost:
    """One publish's feed update with 100 releases stored (bench/feed_update.py's store):
    the live feeds, the index and the archives it changed, stored in the database."""
    events = list(synthetic_events(100 + RENDERS + 1))
    store = _open_store(str(tmp), "renders", events[:100])
    counter = WriteCounter(store.db)
    total = Tally()
    try:
        for n, stored in enumerate(events[100:]):
            with store.db.session() as session:
                store_event(session, stored, webhook_id=f"render_{n}", source="hook", enqueue=False)
            with counter.counting() as tally:
                publish_changes(store.db, store.settings, [stored.release.id])
            if n:  # the first render in the process warms its caches
                total = total + tally
    finally:
        store.db.dispose()
    return total.per(RENDERS)


@contextmanager
def _postgres() -> Iterator[Server | None]:
    if not (PG_BIN / "initdb").exists():
        yield None
        return
    with postgres_cluster() as cluster:
        yield Server(cluster)


def _cost_line(name: str, unit: str, cost: UnitCost) -> str:
    return (
        f"capacity: {name}: {cost.cpu_seconds * 1e6:,.0f} µs CPU per {unit}; "
        f"{cost.statements:.2f} write statements, {cost.rows:.2f} rows, "
        f"{cost.commits:.3f} commits, {cost.redis_commands:.2f} Redis commands; "
        f"PostgreSQL {cost.db_cpu_seconds * 1e6:,.0f} µs CPU, {cost.wal_bytes:,.0f} WAL bytes"
    )


def main() -> bool:
    if not Path(SINK).exists():
        print(f"capacity: {SINK} missing (Debian package postfix)")
        return False
    with tempfile.TemporaryDirectory() as name, _postgres() as postgres:
        root = Path(name)
        for part in ("mail", "webhooks", "renders"):
            (root / part).mkdir()
        mail = measure_mail(root / "mail", postgres)
        webhooks = measure_webhooks(root / "webhooks", postgres)
        render = measure_render(root / "renders")
    database = "a private PostgreSQL cluster" if postgres else "SQLite (no PostgreSQL binaries)"
    print(
        f"capacity: measured on {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}; messages and calls on {database}, renders on SQLite"
    )
    print(_cost_line("newsletter", "message", mail))
    print(_cost_line("webhooks", "call", webhooks))
    print(_cost_line("feeds", "render", render))
    channels = [
        Channel("email", mail, EmailChannel.batch_size),
        Channel("webhooks", webhooks, WebhooksChannel.batch_size),
        Channel("feeds", render, 1),
    ]
    load = DEFAULT_LOAD
    print(
        f"capacity: load: {load.subscribers:,} subscribers mailed within "
        f"{load.mail_window_s / 60:.0f} min; {load.partners:,} partners, each publish's calls "
        f"within {load.webhook_window_s:.0f} s; {load.publishes_per_hour:.0f} publishes an hour"
    )
    result = plan(channels, load, DEFAULT_LIMITS)
    print(render_table(result))
    _, share = result.bottleneck()
    verdict = "PASS" if share <= 1 else "FAIL"
    print(f"capacity: the load fits one PostgreSQL primary and one Redis: {verdict}")
    return share <= 1


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)

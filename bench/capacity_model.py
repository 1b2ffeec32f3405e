"""The capacity model: from measured unit costs to the workers, database and Redis a load
needs. Pure arithmetic, no I/O (tests/bench/test_capacity_model.py); bench/capacity.py
measures the costs and prints :func:`plan`'s table.

A unit is one newsletter message, one partner webhook call or one feed render. Its cost
is the CPU seconds a worker process spends on it (planning, claiming, composing, sending,
recording; user + system time, which a shared machine skews less than the clock), the CPU
seconds PostgreSQL spends on it, and what it writes: statements, rows, committed
transactions and WAL bytes. A worker process runs one core at most (Python's GIL); a pod
of the worker Deployments runs two (``--concurrency 2``). Workers scale out; the one
PostgreSQL primary and the one Redis do not, so those are where the load stops fitting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_LOAD",
    "Channel",
    "Limits",
    "Load",
    "Need",
    "Plan",
    "UnitCost",
    "need",
    "plan",
    "rates",
    "render_table",
]


def _check(instance: object, positive: tuple[str, ...] = ()) -> None:
    """Every number ≥ 0, and those named > 0: a clear error naming the field."""
    for field in fields(instance):  # type: ignore[arg-type]
        value = getattr(instance, field.name)
        if not isinstance(value, int | float):
            continue
        if value < 0 or (field.name in positive and value <= 0):
            bound = "> 0" if field.name in positive else "≥ 0"
            raise ValueError(f"{type(instance).__name__}.{field.name} must be {bound}, not {value}")


@dataclass(frozen=True)
class UnitCost:
    """What one unit costs, measured."""

    cpu_seconds: float  # in the worker process
    statements: float  # INSERT, UPDATE and DELETE statements
    rows: float  # rows they wrote
    commits: float  # transactions that wrote
    redis_commands: float = 0.0  # besides Celery's own (Limits.redis_per_task)
    db_cpu_seconds: float = 0.0  # in PostgreSQL's processes (0: not measured)
    wal_bytes: float = 0.0

    def __post_init__(self) -> None:
        _check(self)


@dataclass(frozen=True)
class Channel:
    """One kind of unit: what it costs and how many go into one Celery task."""

    name: str
    cost: UnitCost
    batch_size: int  # rows per task (channels/*.py batch_size); 1 for a render

    def __post_init__(self) -> None:
        _check(self, positive=("batch_size",))


@dataclass(frozen=True)
class Load:
    """The newsletter's peak, and the publishing with its partner calls (docs/capacity.md)."""

    subscribers: int = 1_000_000
    mail_window_s: float = 600.0  # every subscriber mailed within this
    partners: int = 5_000
    publishes_per_hour: float = 100.0
    # Every publish reaches every partner; each publish's calls go out within this.
    webhook_window_s: float = 60.0
    renders_per_publish: float = 1.0  # feeds: bursts coalesce, so at most one each

    def __post_init__(self) -> None:
        _check(self, positive=("mail_window_s", "webhook_window_s"))


@dataclass(frozen=True)
class Limits:
    """What the model assumes of the machines; docs/capacity.md states each."""

    # A process kept at most this busy: the rest absorbs GC, I/O waits and bursts.
    utilisation: float = 0.7
    processes_per_pod: int = 2  # deploy/kubernetes/workers.yaml: --concurrency 2
    # The PostgreSQL primary: its cores, and the WAL it can write and ship to a standby.
    db_cores: float = 8.0
    wal_bytes_per_s: float = 50e6
    # Committed write transactions a primary sustains on a good SSD (WAL flushes grouped).
    db_commits_per_s: float = 5_000.0
    # Celery on Redis per task: LPUSH, BRPOP, and the unacked hash and index set and
    # cleared (kombu's redis transport), about six commands.
    redis_per_task: float = 6.0
    redis_commands_per_s: float = 100_000.0  # one Redis core, small commands

    def __post_init__(self) -> None:
        _check(self, positive=tuple(f.name for f in fields(self)))
        if self.utilisation > 1:
            raise ValueError(f"Limits.utilisation must be at most 1, not {self.utilisation}")


DEFAULT_LOAD = Load()
DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Need:
    """One channel at its peak rate."""

    channel: str
    units_per_s: float
    cores: float  # worker CPU seconds per second
    processes: int
    pods: int
    db_cores: float
    statements_per_s: float
    rows_per_s: float
    commits_per_s: float
    wal_bytes_per_s: float
    redis_per_s: float


@dataclass(frozen=True)
class Plan:
    needs: tuple[Need, ...]
    limits: Limits

    def total(self, field: str) -> float:
        return float(sum(getattr(need, field) for need in self.needs))

    def shares(self) -> dict[str, float]:
        """Each shared resource's load as a share of what it sustains (1.0: at its limit)."""
        limits = self.limits
        return {
            "PostgreSQL CPU": self.total("db_cores") / (limits.db_cores * limits.utilisation),
            "PostgreSQL WAL": self.total("wal_bytes_per_s") / limits.wal_bytes_per_s,
            "PostgreSQL commits": self.total("commits_per_s") / limits.db_commits_per_s,
            "Redis commands": self.total("redis_per_s") / limits.redis_commands_per_s,
        }

    def bottleneck(self) -> tuple[str, float]:
        """The shared resource nearest its limit, and its share. Workers are not on the
        list: more pods add worker cores; nothing adds a second primary."""
        shares = self.shares()
        name = max(shares, key=lambda key: shares[key])
        return name, shares[name]


def rates(load: Load) -> dict[str, float]:
    """Units per second at each channel's peak. The newsletter's peak and a publish's
    partner calls are taken to coincide: the worst case, one publish doing both."""
    return {
        "email": load.subscribers / load.mail_window_s,
        "webhooks": load.partners / load.webhook_window_s if load.publishes_per_hour else 0.0,
        "feeds": load.publishes_per_hour * load.renders_per_publish / 3600,
    }


def need(channel: Channel, units_per_s: float, limits: Limits) -> Need:
    cost = channel.cost
    cores = units_per_s * cost.cpu_seconds
    # The small epsilon keeps a float product such as 1.4 / 0.7 = 2.0000000000000004 at 2.
    processes = max(1, math.ceil(cores / limits.utilisation - 1e-9))
    tasks_per_s = units_per_s / channel.batch_size
    return Need(
        channel=channel.name,
        units_per_s=units_per_s,
        cores=cores,
        processes=processes,
        pods=math.ceil(processes / limits.processes_per_pod),
        db_cores=units_per_s * cost.db_cpu_seconds,
        statements_per_s=units_per_s * cost.statements,
        rows_per_s=units_per_s * cost.rows,
        commits_per_s=units_per_s * cost.commits,
        wal_bytes_per_s=units_per_s * cost.wal_bytes,
        redis_per_s=units_per_s * cost.redis_commands + tasks_per_s * limits.redis_per_task,
    )


def plan(
    channels: list[Channel], load: Load = DEFAULT_LOAD, limits: Limits = DEFAULT_LIMITS
) -> Plan:
    peak = rates(load)
    unknown = {c.name for c in channels} - set(peak)
    if unknown:
        raise ValueError(f"no load for channel(s) {sorted(unknown)}; known: {sorted(peak)}")
    return Plan(tuple(need(c, peak[c.name], limits) for c in channels), limits)


def render_table(result: Plan) -> str:
    lines = [
        "| channel | units/s | worker cores | worker processes | pods | PostgreSQL cores "
        "| write statements/s | rows written/s | commits/s | WAL MB/s | Redis commands/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def row(name: str, n: Need | None) -> str:
        get = (lambda f: getattr(n, f)) if n else result.total
        return (
            f"| {name} | {get('units_per_s'):,.1f} | {get('cores'):,.2f} "
            f"| {get('processes'):.0f} | {get('pods'):.0f} | {get('db_cores'):,.2f} "
            f"| {get('statements_per_s'):,.0f} | {get('rows_per_s'):,.0f} "
            f"| {get('commits_per_s'):,.1f} | {get('wal_bytes_per_s') / 1e6:,.1f} "
            f"| {get('redis_per_s'):,.0f} |"
        )

    lines += [row(n.channel, n) for n in result.needs]
    lines.append(row("**total**", None))
    shares = ", ".join(f"{name} {share:.0%}" for name, share in result.shares().items())
    name, share = result.bottleneck()
    lines += ["", f"Share of each shared limit: {shares}. Nearest: {name} ({share:.0%})."]
    return "\n".join(lines)

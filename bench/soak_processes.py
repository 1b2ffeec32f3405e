"""The soak's memory check: every process of a `syndicator run`, by role, read from /proc.

A process is known by its pid and its start time (pids are reused). Each gets a role from
its command line and its parent: the supervisor, the web, the worker's parent and each of
its prefork children, beat, the embedded Redis.

Prefork children: syndicator sets neither ``--max-tasks-per-child`` nor
``--max-memory-per-child``, so Celery replaces a child only when one dies. A child at the
end that was not there at the start is shown as such and compared with the start of the
child it replaced (the pool slot), so a replacement can neither hide growth nor invent it;
the log scan shows why it died. Every sample also keeps each role's peak, so a child that
grew and was then replaced still shows what it reached.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MB", "Growth", "ProcessInfo", "compare", "peaks", "snapshot", "table_rows"]

MB = 1024 * 1024
PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    started: int  # clock ticks after boot: with the pid, names one process for good
    role: str
    rss: int  # bytes (VmRSS)


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time) from /proc/<pid>/stat, or None once the process is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[19])


def _rss(pid: int) -> int | None:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None  # a zombie has no VmRSS line


def _cmdline(pid: int) -> list[str]:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _children_of() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                tree.setdefault(stat[0], []).append(int(entry.name))
    return tree


def _role(command: list[str], parent_role: str | None) -> str:
    if parent_role in ("worker", "webhooks worker"):
        return "worker child"
    if parent_role == "redis":
        return "redis (fork)"  # an AOF rewrite: short-lived, left out
    program = os.path.basename(command[0]) if command else "?"
    if "redis-server" in " ".join(command):  # Redis rewrites its title: "redis-server unix…"
        return "redis"
    if "celery" in command:
        # `syndicator run`'s second worker takes partners' webhooks (runtime/launcher.py).
        if "worker" in command and "webhooks@%h" in command:
            return "webhooks worker"
        for role in ("worker", "beat"):
            if role in command:
                return role
    if "syndicator" in command:
        for role, word in (("web", "web"), ("supervisor", "run")):
            if word in command:
                return role
    return f"other ({program})"


def snapshot(root: int) -> list[ProcessInfo]:
    """``root`` (the `syndicator run` process) and everything under it, with RSS now."""
    tree = _children_of()
    found: list[ProcessInfo] = []
    pending: list[tuple[int, str | None]] = [(root, None)]
    while pending:
        pid, parent_role = pending.pop()
        stat, rss = _stat(pid), _rss(pid)
        if stat is None or rss is None:
            continue
        role = _role(_cmdline(pid), parent_role)
        if role != "redis (fork)":
            found.append(ProcessInfo(pid, stat[0], stat[1], role, rss))
        pending.extend((child, role) for child in tree.get(pid, []))
    return _numbered(found)


def _numbered(processes: list[ProcessInfo]) -> list[ProcessInfo]:
    """Prefork children as ``worker child 1``, ``2``…, by start time then pid."""
    children = sorted(
        (p for p in processes if p.role == "worker child"), key=lambda p: (p.started, p.pid)
    )
    slot = {(p.pid, p.started): n for n, p in enumerate(children, 1)}
    return [
        ProcessInfo(p.pid, p.ppid, p.started, f"worker child {slot[(p.pid, p.started)]}", p.rss)
        if p.role == "worker child"
        else p
        for p in processes
    ]


@dataclass(frozen=True)
class Growth:
    role: str
    pid: int
    start: int
    end: int | None  # None: gone at the end
    peak: int
    replaced: int | None = None  # the pid this process took the slot of

    @property
    def grew(self) -> int:
        return (self.end if self.end is not None else self.start) - self.start


def peaks(samples: Iterable[list[ProcessInfo]]) -> dict[tuple[int, int], int]:
    """The largest RSS each process (pid, start time) showed in any sample."""
    top: dict[tuple[int, int], int] = {}
    for sample in samples:
        for p in sample:
            key = (p.pid, p.started)
            top[key] = max(top.get(key, 0), p.rss)
    return top


def compare(
    start: list[ProcessInfo], end: list[ProcessInfo], peak: dict[tuple[int, int], int]
) -> list[Growth]:
    """One row per process at the start; a child that replaced one is set against it."""
    ended = {(p.pid, p.started): p for p in end}
    newcomers = [p for p in end if (p.pid, p.started) not in {(s.pid, s.started) for s in start}]
    rows: list[Growth] = []
    for p in start:
        key = (p.pid, p.started)
        now = ended.get(key)
        if now is not None:
            rows.append(Growth(p.role, p.pid, p.rss, now.rss, max(peak.get(key, 0), now.rss)))
            continue
        successor = next((n for n in newcomers if n.role.startswith("worker child")), None)
        if p.role.startswith("worker child") and successor is not None:
            newcomers.remove(successor)
            top = max(peak.get((successor.pid, successor.started), 0), successor.rss)
            rows.append(Growth(p.role, successor.pid, p.rss, successor.rss, top, replaced=p.pid))
        else:
            rows.append(Growth(p.role, p.pid, p.rss, None, peak.get(key, p.rss)))
    rows.extend(Growth(n.role + " (new)", n.pid, n.rss, n.rss, n.rss) for n in newcomers)
    return rows


def table_rows(rows: list[Growth]) -> list[tuple[str, ...]]:
    """(process, pid, start MB, end MB, growth MB, peak MB) for printing."""
    out: list[tuple[str, ...]] = []
    for row in rows:
        pid = f"{row.pid}" if row.replaced is None else f"{row.pid} (replaced {row.replaced})"
        end = "gone" if row.end is None else f"{row.end / MB:.1f}"
        out.append(
            (
                row.role,
                pid,
                f"{row.start / MB:.1f}",
                end,
                f"{row.grew / MB:+.1f}",
                f"{row.peak / MB:.1f}",
            )
        )
    return out

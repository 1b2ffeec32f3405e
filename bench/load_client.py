"""A small HTTP/1.1 load generator for bench.serve_feeds, run in its own process.

N keep-alive connections each send a GET, read the whole response, check it and send the
next. Several targets are measured interleaved: the connections switch target every slice
(0.5 s), round-robin, so a slow spell on a shared machine hits every target alike; each
response is counted for the target its request asked for. Only the status line and
Content-Length are parsed, so the client costs the CPU it shares with the server little
(aiohttp, measured here, cost the 40 KB feed 40% of its rate, the 1-byte route 15%).
Prints one JSON object.

    python -m bench.load_client 127.0.0.1:8000 --target '/feeds/rss.xml 200 39986' \
        --target '/feeds/rss.xml 304 0 If-None-Match: "abc"' --rounds 3 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import cast

_NO_BODY = {204, 304}


@dataclass
class Target:
    path: str
    status: int  # what every response must be
    length: int
    request: bytes
    counting: bool = False
    completed: int = 0
    bad: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    rounds: list[float] = field(default_factory=list)

    @classmethod
    def parse(cls, spec: str, authority: str) -> Target:
        path, status, length, *header = spec.split(" ", 3)
        lines = [f"GET {path} HTTP/1.1", f"Host: {authority}", *header]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return cls(path, int(status), int(length), request)

    def record(self, status: int, length: int) -> None:
        if not self.counting:
            return
        self.completed += 1
        self.statuses[status] += 1
        if status != self.status or length != self.length:
            self.bad += 1


@dataclass
class Load:
    targets: list[Target]
    current: Target
    running: bool = True
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)


class Connection(asyncio.Protocol):
    def __init__(self, load: Load, closed: asyncio.Future[None]) -> None:
        self.load = load
        self.closed = closed
        self.transport: asyncio.Transport | None = None
        self.sent = load.current
        self.buffer = bytearray()
        self.status = 0
        self.length = 0
        self.remaining = -1  # body bytes still expected; -1 while reading the head

    def _send(self) -> None:
        assert self.transport is not None
        self.sent = self.load.current
        self.transport.write(self.sent.request)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        try:
            self._receive(data)
        except ValueError as error:  # not HTTP as we know it: count it, start afresh
            self.sent.bad += 1
            self.load.errors.append(repr(error))
            assert self.transport is not None
            self.transport.close()

    def _head(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self.buffer[:end]).lower()
        del self.buffer[: end + 4]
        self.status = int(head[9:12])
        self.length = -1
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name == b"content-length":
                self.length = int(value)
        if self.status in _NO_BODY:
            self.length = 0
        if self.length < 0:
            raise ValueError(f"no Content-Length in a {self.status} response")
        self.remaining = self.length
        return True

    def _receive(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.remaining < 0 and not self._head():
                return
            if len(self.buffer) < self.remaining:
                return
            del self.buffer[: self.remaining]
            self.remaining = -1
            self.sent.record(self.status, self.length)
            if not self.load.running:
                assert self.transport is not None
                self.transport.close()
                return
            self._send()


async def _keep_connected(host: str, port: int, load: Load) -> None:
    loop = asyncio.get_running_loop()
    first = True
    while load.running:
        closed: asyncio.Future[None] = loop.create_future()
        try:
            await loop.create_connection(partial(Connection, load, closed), host, port)
        except OSError as error:
            load.errors.append(repr(error))
            await asyncio.sleep(0.05)
            continue
        if not first:
            load.reconnects += 1
        first = False
        await closed


async def _slice(load: Load, target: Target, seconds: float, counted: bool) -> None:
    load.current, target.counting = target, counted
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    if counted:
        target.seconds += time.perf_counter() - started
    # Responses to requests already sent still count for this target (counting stays on);
    # the next target's slice starts now.


async def run(args: argparse.Namespace) -> dict[str, object]:
    host, _, port = args.authority.rpartition(":")
    targets = [Target.parse(spec, args.authority) for spec in args.target]
    load = Load(targets, targets[0])
    tasks = [
        asyncio.create_task(_keep_connected(host, int(port), load)) for _ in range(args.connections)
    ]
    slices = max(1, round(args.duration / args.slice))
    for n in range(max(1, round(args.warmup / args.slice))):
        await _slice(load, targets[n % len(targets)], args.slice, counted=False)
    for _ in range(args.rounds):
        before = [(t.completed, t.seconds) for t in targets]
        for _ in range(slices):
            for target in targets:
                await _slice(load, target, args.slice, counted=True)
        for target, (completed, seconds) in zip(targets, before, strict=True):
            target.rounds.append((target.completed - completed) / (target.seconds - seconds))
    for target in targets:
        target.counting = False
    load.running = False
    _, pending = await asyncio.wait(tasks, timeout=5)
    for task in pending:
        task.cancel()
    return {
        "targets": [
            {
                "path": t.path,
                "requests": t.completed,
                "seconds": t.seconds,
                "rps": t.completed / t.seconds,
                "rounds": t.rounds,
                "bad": t.bad,
                "statuses": {str(k): v for k, v in t.statuses.items()},
            }
            for t in targets
        ],
        "reconnects": load.reconnects,
        "errors": load.errors[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("authority", help="host:port")
    parser.add_argument(
        "--target",
        action="append",
        required=True,
        help="'PATH STATUS LENGTH [Header: value]': what every response must be",
    )
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds, not counted")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per target a round")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--slice", type=float, default=0.5, help="seconds before switching")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(args))
    else:
        result = uvloop.run(run(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

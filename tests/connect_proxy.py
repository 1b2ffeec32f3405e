"""A real HTTP CONNECT proxy for egress tests: asyncio, in a thread, on loopback.

It tunnels ``CONNECT host:port`` (how https goes through smokescreen) and forwards
absolute-form requests (``POST http://host:port/path``, how plain http goes through any
forward proxy), and records what it was asked for and the local port of every upstream
connection it opened: a receiver that sees a request from one of those ports got it
through the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.services import free_port

__all__ = ["ConnectProxy", "connect_proxy"]


@dataclass
class ConnectProxy:
    port: int
    asked: list[str] = field(default_factory=list)  # "CONNECT 1.2.3.4:443", "POST http://..."
    upstream_ports: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Every stream either side opened, closed at the stop: a transport left to the garbage
    # collector warns in whichever test runs next.
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        request_line, _, rest = head.partition(b"\r\n")
        method, target, version = request_line.decode("latin-1").split(" ", 2)
        with self.lock:
            self.asked.append(f"{method} {target}")
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            first = b""
        else:
            parts = urlsplit(target)
            host, port = parts.hostname or "", str(parts.port or 80)
            path = parts.path or "/"
            path += f"?{parts.query}" if parts.query else ""
            first = f"{method} {path} {version}\r\n".encode() + rest
        try:
            up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        self.writers.append(up_writer)
        with self.lock:
            self.upstream_ports.add(up_writer.get_extra_info("sockname")[1])
        if method == "CONNECT":
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
        else:
            up_writer.write(first)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            sink.close()


@contextmanager
def connect_proxy() -> Iterator[ConnectProxy]:
    proxy = ConnectProxy(free_port())
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    server: list[asyncio.Server] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        started = asyncio.start_server(proxy.handle, "127.0.0.1", proxy.port)
        server.append(loop.run_until_complete(started))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="connect-proxy", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the CONNECT proxy did not start")
    try:
        yield proxy
    finally:

        async def stop() -> None:
            server[0].close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for writer in proxy.writers:
                writer.close()
            # A transport finishes closing on the loop's next turn.
            await asyncio.sleep(0)
            await asyncio.sleep(0)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()

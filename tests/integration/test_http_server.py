"""The HTTP protocol `syndicator web` serves with: uvicorn's httptools, writes coalesced."""

from __future__ import annotations

import asyncio
import inspect
import socket
import tomllib
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
import uvicorn
from packaging.requirements import Requirement
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from syndicator.web.server import CoalescingHttpToolsProtocol, _CoalescingTransport
from tests.live_server import serve

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

BIG = "대구".encode() * 100_000  # 600 KB: more than a socket buffer takes at once


async def small(_request: Request) -> Response:
    return Response(b"x", media_type="text/plain")


async def big(_request: Request) -> Response:
    return Response(BIG, media_type="application/octet-stream")


async def stream(_request: Request) -> StreamingResponse:
    async def chunks():
        for n in range(5):
            yield f"chunk {n}\n".encode()
            await asyncio.sleep(0)

    return StreamingResponse(chunks(), media_type="text/plain")


@pytest.fixture(scope="module")
def address() -> Iterator[tuple[str, int]]:
    app = Starlette(routes=[Route("/small", small), Route("/big", big), Route("/stream", stream)])
    with serve(app) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def _read_response(sock: socket.socket, buffer: bytearray) -> tuple[bytes, bytes]:
    """One HTTP/1.1 response (Content-Length or chunked) from ``buffer`` + the socket."""
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536) or b""
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    buffer[:] = rest
    lines = head.split(b"\r\n")
    headers = dict(line.lower().split(b": ", 1) for line in lines[1:])
    if b"content-length" in headers:
        length = int(headers[b"content-length"])
        while len(buffer) < length:
            buffer += sock.recv(65536)
        body = bytes(buffer[:length])
        del buffer[:length]
        return lines[0], body
    body = b""
    while True:  # chunked
        while b"\r\n" not in buffer:
            buffer += sock.recv(65536)
        size_line, _, _ = bytes(buffer).partition(b"\r\n")
        size = int(size_line, 16)
        while len(buffer) < len(size_line) + 2 + size + 2:
            buffer += sock.recv(65536)
        body += bytes(buffer[len(size_line) + 2 : len(size_line) + 2 + size])
        del buffer[: len(size_line) + 2 + size + 2]
        if size == 0:
            return lines[0], body


def test_pipelined_keep_alive_requests_get_whole_responses_in_order(address):
    with socket.create_connection(address, timeout=10) as sock:
        requests = [
            b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n",
            b"GET /small HTTP/1.1\r\nHost: t\r\n\r\n",
            b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n",
            b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n",
        ]
        sock.sendall(b"".join(requests))
        buffer = bytearray()
        answers = [_read_response(sock, buffer) for _ in requests]
    assert [status for status, _ in answers] == [b"HTTP/1.1 200 OK"] * 4
    assert [body for _, body in answers] == [
        BIG,
        b"x",
        b"".join(f"chunk {n}\n".encode() for n in range(5)),
        BIG,
    ]


def test_connection_close_sends_everything_then_closes(address):
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and body == BIG


class _RecordingTransport(asyncio.Transport):
    """Stands in for the socket transport: records each write the proxy passes on."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data) -> None:  # type: ignore[no-untyped-def]
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def test_writes_in_one_loop_iteration_leave_as_one_and_close_sends_them_first():
    async def scenario() -> list[list[bytes]]:
        loop = asyncio.get_running_loop()
        real = _RecordingTransport()
        proxy = _CoalescingTransport(real, loop)
        proxy.write(b"HTTP/1.1 200 OK\r\n\r\n")
        proxy.write(b"body")
        assert real.writes == []  # not yet: the response may have more to say
        await asyncio.sleep(0)
        first = list(real.writes)
        proxy.write(b"last words")
        proxy.close()
        return [first, real.writes[1:]]

    first, at_close = asyncio.run(scenario())
    assert first == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    assert at_close == [b"last words"]


# uvicorn's HttpToolsProtocol is private: pyproject.toml pins uvicorn to the minor series these
# tests were run against. The tests below name what the subclass relies on, so a release that
# reshapes it fails here, by name, rather than in production.


def test_installed_uvicorn_is_the_pinned_series() -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (pin,) = [r for r in map(Requirement, dependencies) if r.name == "uvicorn"]
    assert pin.specifier and all(s.operator in {">=", "<"} for s in pin.specifier), pin
    assert pin.specifier.contains(version("uvicorn")), (version("uvicorn"), str(pin))


def test_the_private_base_class_has_the_shape_the_subclass_relies_on() -> None:
    # uvicorn.Server builds each protocol with these keywords (server.py, create_protocol).
    init = inspect.signature(HttpToolsProtocol.__init__).parameters
    assert {"config", "server_state", "app_state"} <= init.keys(), list(init)
    made = inspect.signature(HttpToolsProtocol.connection_made).parameters
    assert list(made) == ["self", "transport"], list(made)
    assert issubclass(CoalescingHttpToolsProtocol, asyncio.Protocol)
    # web.connection_limits times heads and bodies from these parser and cycle callbacks.
    for hook in ("on_headers_complete", "on_message_complete", "on_response_complete"):
        assert list(inspect.signature(getattr(HttpToolsProtocol, hook)).parameters) == ["self"]
    source = inspect.getsource(HttpToolsProtocol)
    assert "self.pipeline" in source and "self.loop" in source and "on_response=" in source


class _WireTransport(_RecordingTransport):
    """A socket transport's face, as far as uvicorn looks at it."""

    def get_extra_info(self, name, default=None):  # type: ignore[no-untyped-def]
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def test_uvicorn_writes_every_byte_of_a_response_through_the_transport_it_was_given():
    """The point of the subclass: head and body leave in one write, through our proxy. If
    uvicorn kept another reference to the socket, or wrote with ``writelines`` (which the
    proxy passes straight through), this sees two writes, or none."""
    app = Starlette(routes=[Route("/small", small)])

    async def scenario() -> tuple[list[bytes], object]:
        config = uvicorn.Config(app, http=CoalescingHttpToolsProtocol, lifespan="off")
        config.load()
        protocol = CoalescingHttpToolsProtocol(
            config=config, server_state=ServerState(), app_state={}
        )
        wire = _WireTransport()
        protocol.connection_made(wire)
        transport = protocol.transport
        protocol.data_received(b"GET /small HTTP/1.1\r\nHost: t\r\n\r\n")
        for _ in range(200):  # loop iterations, not time: the app answers within a few
            await asyncio.sleep(0)
        protocol.connection_lost(None)
        return wire.writes, transport

    writes, transport = asyncio.run(scenario())
    assert isinstance(transport, _CoalescingTransport)
    assert len(writes) == 1, writes
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\nx")

"""The HTTP protocol `syndicator web` serves with: uvicorn's httptools, writes coalesced."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from syndicator.web.server import _CoalescingTransport
from tests.live_server import serve

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

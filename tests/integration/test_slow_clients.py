"""Slow and idle clients against the server `syndicator web` starts (and `syndicator run`,
which runs `syndicator web` as its child), over raw sockets.

The deadlines are set short through the environment. Each test waits on the socket
itself: the server closing it (``recv`` returns ``b""``) is the event; a long socket
timeout only bounds a failure. A slow client's pace comes from waiting for an answer that
does not come (``recv`` timing out), as a real client reading between writes would.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicator.config import load_settings
from syndicator.web.app import create_app
from syndicator.web.connection_limits import ConnectionLimits, bounded_protocol
from tests.live_server import serve
from tests.processes import web_process

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
BOUND = 30.0  # a failure's bound, never the expectation
PACE = 0.2  # a drip's pause, well inside the deadlines


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    with web_process(
        tmp_path_factory.mktemp("slow"),
        SYNDICATOR_HTTP_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
        SYNDICATOR_HTTP_BODY_TIMEOUT=str(BODY_TIMEOUT),
    ) as address:
        yield address


def _closed_by_server(sock: socket.socket) -> bool:
    """Reads until the server closes (True) or the bound passes (False)."""
    sock.settimeout(BOUND)
    try:
        while chunk := sock.recv(65536):
            del chunk  # a 408 or any answer may come first; the close is what counts
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def _drip(sock: socket.socket, pieces: list[bytes]) -> tuple[int, bool]:
    """Sends ``pieces`` one per PACE; (pieces sent, whether the server closed first)."""
    sock.settimeout(PACE)
    deadline = time.monotonic() + BOUND
    for sent, piece in enumerate(pieces):
        if time.monotonic() > deadline:
            return sent, False
        try:
            sock.sendall(piece)
            if sock.recv(65536) == b"":
                return sent + 1, True
        except TimeoutError:
            continue  # nothing said yet: the next piece
        except OSError:  # reset, or a broken pipe on send
            return sent, True
    return len(pieces), False


def _response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One response with a Content-Length: (status line, body)."""
    sock.settimeout(BOUND)
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a response: {buffer!r}"
        buffer += chunk
    head, _, body = buffer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in lines if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return lines[0], body


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"


def test_a_connection_that_sends_nothing_is_closed(web):
    with socket.create_connection(web, timeout=BOUND) as sock:
        assert _closed_by_server(sock), "the server kept a silent connection"


@pytest.mark.parametrize("first", [False, True], ids=["fresh", "after-a-response"])
def test_a_head_dripped_line_by_line_is_closed_before_it_ends(web, first):
    lines = [b"GET /healthz HTTP/1.1\r\n", b"Host: t\r\n"]
    lines += [f"X-Drip-{n}: a\r\n".encode() for n in range(int(BOUND / PACE) + 10)]
    with socket.create_connection(web, timeout=BOUND) as sock:
        if first:  # keep-alive: a byte of the next head no longer buys more time
            sock.sendall(HEALTHZ)
            assert _response(sock)[0] == b"HTTP/1.1 200 OK"
        sent, closed = _drip(sock, lines)
    assert closed, "the server kept a connection whose head never ended"
    assert sent < len(lines)


def test_a_dripped_body_is_closed_before_it_ends(web):
    body = b"email=" + b"a" * 400
    head = (
        b"POST /subscriptions HTTP/1.1\r\nHost: t\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    with socket.create_connection(web, timeout=BOUND) as sock:
        sock.sendall(head)
        sent, closed = _drip(sock, [body[i : i + 1] for i in range(len(body))])
    assert closed, "the server kept a connection whose body never ended"
    assert sent < len(body)


def test_a_slow_but_complete_request_is_served_and_the_connection_kept(web):
    """Well inside the deadlines, a head and a body in pieces, twice on one connection."""
    body = b'{"type": "release.published"}'
    post = (
        b"POST /hooks/cms HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with socket.create_connection(web, timeout=BOUND) as sock:
        for request, status in ((HEALTHZ, b"200 OK"), (post, b"401 Unauthorized")):
            step = len(request) // 5
            pieces = [request[i * step : (i + 1) * step] for i in range(4)]
            sent, closed = _drip(sock, pieces)  # a pause after each: nothing comes back
            assert (sent, closed) == (len(pieces), False)
            sock.sendall(request[4 * step :])
            line, _ = _response(sock)
            assert line == b"HTTP/1.1 " + status


def test_connections_over_the_cap_are_answered_503_and_closed(tmp_path: Path):
    settings = load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(tmp_path / "var"),
            "SYNDICATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'syndicator.db'}",
        }
    )
    limits = ConnectionLimits(header_timeout=BOUND * 2, body_timeout=BOUND, max_connections=3)
    with serve(create_app(settings), http=bounded_protocol(limits)) as url:
        address = ("127.0.0.1", int(url.rsplit(":", 1)[1]))
        held = [socket.create_connection(address, timeout=BOUND) for _ in range(3)]
        try:
            for sock in held:  # answered, and kept open: three connections count
                sock.sendall(HEALTHZ)
                assert _response(sock)[0] == b"HTTP/1.1 200 OK"
            with socket.create_connection(address, timeout=BOUND) as extra:
                line, body = _response(extra)
                assert (line, body) == (
                    b"HTTP/1.1 503 Service Unavailable",
                    b"too many connections",
                )
                assert _closed_by_server(extra)
            # The server closes one (it forgets a connection before its socket closes).
            held[0].sendall(HEALTHZ.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
            assert _response(held[0])[0] == b"HTTP/1.1 200 OK"
            assert _closed_by_server(held[0])
            with socket.create_connection(address, timeout=BOUND) as sock:
                sock.sendall(HEALTHZ)
                assert _response(sock)[0] == b"HTTP/1.1 200 OK"
        finally:
            for sock in held:
                sock.close()


def test_a_request_the_server_cannot_parse_is_a_400_that_says_nosniff(web):
    with socket.create_connection(web, timeout=BOUND) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        sock.settimeout(BOUND)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head = received.partition(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 400")
    assert b"\r\nx-content-type-options: nosniff" in head

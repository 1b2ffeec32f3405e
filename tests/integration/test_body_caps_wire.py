"""Body caps on the wire, against `syndicator web` (what `syndicator run` starts): the
review's own examples, with raw sockets so "before the body" is what the client did.

A declared length over the cap is answered with only the head sent; a chunked body over
the cap is answered while the client still owes the rest. Every refusal is a 413 problem
document, ahead of authentication, and the server closes the connection after it.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.processes import web_process

BOUND = 30.0  # a failure's bound


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    with web_process(tmp_path_factory.mktemp("caps")) as address:
        yield address


def _answer_then_close(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Reads until the server closes: (status, headers, body)."""
    sock.settimeout(BOUND)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, body


def _assert_413(answer: tuple[int, dict[str, str], bytes], cap: int) -> None:
    status, headers, body = answer
    assert status == 413, (status, body)
    assert headers["content-type"] == "application/problem+json"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["connection"] == "close"
    document = json.loads(body)
    assert document["status"] == 413 and str(cap) in document["detail"]


@pytest.mark.parametrize(
    ("head", "cap"),
    [
        # 80 MB to the admin API without a token: once read whole before the 401.
        (
            "PATCH /api/partners/1 HTTP/1.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {80 * 1024 * 1024}\r\n",
            256 * 1024,
        ),
        # A 60 MB form to the console's login: once read whole by the form parser.
        (
            "POST /ops/login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {60 * 1024 * 1024}\r\n",
            64 * 1024,
        ),
        (
            "POST /hooks/cms HTTP/1.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {1024 * 1024 + 1}\r\n",
            1024 * 1024,
        ),
    ],
    ids=["admin-json", "console-form", "hook"],
)
def test_a_declared_length_over_the_cap_is_answered_before_the_body(web, head, cap):
    with socket.create_connection(web, timeout=BOUND) as sock:
        sock.sendall(f"{head}Host: t\r\n\r\n".encode())  # the head only
        _assert_413(_answer_then_close(sock), cap)


@pytest.mark.parametrize(
    ("request_line", "media", "cap"),
    [
        ("PATCH /api/partners/1", "application/json", 256 * 1024),
        ("POST /subscriptions", "application/x-www-form-urlencoded", 64 * 1024),
        ("POST /hooks/cms", "application/json", 1024 * 1024),
    ],
)
def test_a_chunked_body_is_answered_one_byte_past_the_cap(web, request_line, media, cap):
    head = (
        f"{request_line} HTTP/1.1\r\nHost: t\r\nContent-Type: {media}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    with socket.create_connection(web, timeout=BOUND) as sock:
        sock.sendall(head.encode())
        # One byte over, and no last chunk: the client still owes the end of its body.
        sock.sendall(f"{cap + 1:x}\r\n".encode() + b"a" * (cap + 1) + b"\r\n")
        _assert_413(_answer_then_close(sock), cap)


def test_a_client_that_keeps_sending_still_reads_its_413(web):
    host, port = web
    answer = httpx.patch(
        f"http://{host}:{port}/api/partners/1",
        content=b"x" * (80 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
        timeout=BOUND,
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"


def test_within_the_cap_authentication_decides(web):
    host, port = web
    with httpx.Client(base_url=f"http://{host}:{port}", timeout=BOUND) as http:
        assert http.patch("/api/partners/1", json={"name": "x"}).status_code == 401
        login = http.post("/ops/login", data={"who": "a", "token": "x"})
        assert login.status_code == 403  # no login form, so no CSRF cookie: the form decides

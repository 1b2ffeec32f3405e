"""No subscriber token reaches a log: `syndicator web` (uvicorn's access log) and nginx.

Each test runs the real server, sends requests carrying tokens (as raw request lines, so
no client tidies the path first), and reads the log the server wrote.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicator.config import load_settings
from syndicator.store.migrate import upgrade
from syndicator.subscriptions.tokens import make_token
from tests.processes import web_node
from tests.system import wait_for

# Real tokens, as the links in mails carry them, signed with a test key.
_KEYED = load_settings({"SYNDICATOR_TOKEN_KEYS": "a-key-for-the-log-tests"})
REAL_TOKENS = st.builds(
    make_token,
    st.just(_KEYED),
    st.sampled_from(["confirm", "preferences", "unsubscribe"]),
    st.integers(1, 2**31),
)
# Where a token can ride: every route, odd case, extra slashes or segments, escapes, and
# a token= query value.
CARRIERS = (
    "/subscriptions/confirm/{}",
    "/preferences/{}",
    "/unsubscribe/{}",
    "/preferences/{}?utm=1",
    "//unsubscribe/{}",
    "/Preferences/{}",
    "/preferences/./{}",
    "/preferences%2F{}",
    "/search?q=1&token={}",
)


def send_raw(port: int, method: str, target: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"{method} {target} HTTP/1.1\r\nHost: press.example.kr\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _lines_with(log: Path, needle: str) -> int:
    return log.read_text(errors="replace").count(needle)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("web")
    database = f"sqlite:///{tmp / 'web.db'}"
    upgrade(database)
    log = tmp / "web.log"
    env = {
        **os.environ,
        "SYNDICATOR_DATA_DIR": str(tmp / "var"),
        "SYNDICATOR_DATABASE_URL": database,
        "SYNDICATOR_REDIS_URL": "redis://127.0.0.1:1/0",
        "SYNDICATOR_TOKEN_KEYS": "a-key-for-the-log-tests",
        "SYNDICATOR_LOG_LEVEL": "INFO",
        # Request spans print to the same log: no span attribute may hold a token either.
        "SYNDICATOR_OTEL_EXPORTER": "console",
    }
    with web_node(env, log) as node:
        yield int(node.url.rpartition(":")[2]), log


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(token=REAL_TOKENS, method=st.sampled_from(["GET", "POST"]))
def test_uvicorn_access_lines_never_hold_a_token(web, token: str, method: str) -> None:
    port, log = web
    before = _lines_with(log, ' HTTP/1.1" ')
    for carrier in CARRIERS:
        send_raw(port, method, carrier.format(token))
    # Every request has its access line; none may hold the token.
    wait_for(
        lambda: _lines_with(log, ' HTTP/1.1" ') >= before + len(CARRIERS) or None,
        30,
        "access lines",
    )
    text = log.read_text(errors="replace")
    assert token not in text
    assert f'"{method} /preferences/[redacted] HTTP/1.1"' in text


def test_request_spans_never_hold_a_token(web) -> None:
    port, log = web
    token = make_token(_KEYED, "preferences", 4242)
    send_raw(port, "GET", f"/preferences/{token}?token={token}")
    # Spans are exported in batches, a few seconds apart.
    wait_for(lambda: "/preferences/[redacted]" in _spans(log) or None, 30, "the request span")
    assert token not in log.read_text(errors="replace")


def _spans(log: Path) -> str:
    return "\n".join(
        line for line in log.read_text(errors="replace").splitlines() if "otel_span" in line
    )

"""The pipelined path (RFC 2920) against postfix's smtp-sink, which offers PIPELINING."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from syndicator.mail.transport import Failure, SendError, SmtpTransport

SINK = Path("/usr/sbin/smtp-sink")
pytestmark = pytest.mark.skipif(not SINK.exists(), reason="postfix's smtp-sink is not installed")
MESSAGE = b"Subject: x\r\n\r\n.starts with a dot\r\nline\r\n"


@contextmanager
def sink(tmp_path: Path, *options: str) -> Iterator[SmtpTransport]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(SINK), "-u", "nobody", *options, f"127.0.0.1:{port}", "10"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        transport = SmtpTransport("127.0.0.1", port, timeout=5)
        yield transport
        transport.close()
    finally:
        process.terminate()
        process.wait()


def test_pipelined_messages_are_accepted_on_one_connection(tmp_path: Path) -> None:
    with sink(tmp_path) as transport:
        for n in range(3):
            assert transport.send("a@daegu.go.kr", f"r{n}@example.org", MESSAGE).code == 250
        assert transport._conn is not None and transport._conn.has_extn("pipelining")


def test_a_421_in_the_pipeline_is_temporary(tmp_path: Path) -> None:
    with sink(tmp_path, "-Q", "RCPT") as transport:
        with pytest.raises(SendError) as caught:
            transport.send("a@daegu.go.kr", "b@example.org", MESSAGE)
        assert caught.value.failure is Failure.TEMPORARY and caught.value.reply.code == 421
        assert transport._conn is None


def test_a_hang_up_after_the_message_is_uncertain(tmp_path: Path) -> None:
    with sink(tmp_path, "-q", ".") as transport:
        with pytest.raises(SendError) as caught:
            transport.send("a@daegu.go.kr", "b@example.org", MESSAGE)
        assert caught.value.failure is Failure.UNCERTAIN

"""The pipe as docs/bounces.md wires it, through a real Postfix from end to end.

The email channel sends a newsletter, from its VERP envelope sender, through a private
Postfix (tests/postfix.py) to a local user that does not exist. Postfix's local delivery
agent bounces it to ``bounces+<tag>@news.example.kr``, which is local too: with
``recipient_delimiter = +`` the ``bounces`` alias takes it and pipes it to
``syndicator bounces ingest --env-file … -`` with nothing but Postfix's own environment.
While the database cannot be reached the command exits 75 and Postfix keeps the bounce;
once it can, the retried bounce suppresses the subscriber, with its evidence.

One departure from docs/bounces.md: Postfix runs an alias's command as the alias table's
owner, never root, and this machine's interpreter lives under /root, out of that user's
reach. So the alias runs a relay (the system's python3, as that user) that hands the mail,
its environment and back the exit code to the very command, started by the test."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from syndicator.bounces import verp
from syndicator.channels.base import ChannelContext
from syndicator.channels.email import EmailChannel
from syndicator.config import Settings
from syndicator.delivery.runner import Enqueue, plan_event, run_due
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import DeliveryAttempt, MailFeedback, Subscriber
from tests.newsletter_support import add_subscriber, ledger, publish
from tests.postfix import PostfixInstance, needs_postfix, private_postfix
from tests.processes import wait_for
from tests.unit.mail.support import mail_settings

SYSTEM_PYTHON = Path("/usr/bin/python3")
pytestmark = [
    needs_postfix,
    pytest.mark.slow,
    pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="the relay needs /usr/bin/python3"),
]

UNKNOWN = "nosuchresident@mx.syndicator.test"
PIPE_USER = "nobody"  # stands for the syndicator user: anyone but root

# Run by Postfix as PIPE_USER: the mail and the environment out, the exit code back.
RELAY = """\
import json, os, socket, sys
mail = sys.stdin.buffer.read()
head = json.dumps(dict(os.environ)).encode()
with socket.socket(socket.AF_UNIX) as conn:
    conn.connect({socket!r})
    conn.sendall(len(head).to_bytes(4, "big") + head + mail)
    conn.shutdown(socket.SHUT_WR)
    answer = conn.recv(16)
sys.exit(int(answer or b"75"))
"""

MAIN_CF = """\
mydestination = $myhostname, localhost, news.example.kr
# Take mail for any local name in SMTP, so that the local delivery agent, not smtpd,
# refuses the unknown user: that makes a bounce message rather than a 550.
local_recipient_maps =
recipient_delimiter = +
alias_maps = hash:{root}/mail/aliases
alias_database = hash:{root}/mail/aliases
# Retry a deferred message soon after `postqueue -f`, not minutes later.
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s
"""


@dataclass
class Piped:
    environment: dict[str, str]
    returncode: int
    output: str


@contextmanager
def ingest_server(path: Path, env_file: Path) -> Iterator[list[Piped]]:
    """Runs `syndicator bounces ingest --env-file ENV_FILE -` for each mail the relay
    hands over on the UNIX socket ``path``, in the environment Postfix gave the relay."""
    runs: list[Piped] = []
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    path.chmod(0o777)
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return  # closed: the test is over
            with conn:
                data = _read_all(conn)
                size = int.from_bytes(data[:4], "big")
                environment = json.loads(data[4 : 4 + size])
                command = [sys.executable, "-m", "syndicator", "bounces", "ingest"]
                done = subprocess.run(
                    [*command, "--env-file", str(env_file), "-"],
                    input=data[4 + size :],
                    env={**environment, "PATH": os.environ["PATH"]},
                    capture_output=True,
                    timeout=120,
                    check=False,
                )
                output = (done.stdout + done.stderr).decode(errors="replace")
                runs.append(Piped(environment, done.returncode, output))
                conn.sendall(str(done.returncode).encode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield runs
    finally:
        server.close()
        thread.join(timeout=10)


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _alias_table(relay: Path) -> Callable[[PostfixInstance], None]:
    def write(postfix: PostfixInstance) -> None:
        # A directory of the pipe user's own, since postalias writes the table as them.
        (postfix.root / "mail").mkdir()
        shutil.chown(postfix.root / "mail", user=PIPE_USER)
        aliases = postfix.root / "mail" / "aliases"
        command = f"{SYSTEM_PYTHON} {relay}"
        aliases.write_text(f'bounces: "|{command}"\n')
        shutil.chown(aliases, user=PIPE_USER)
        # postalias drops to the source file's owner: the table is PIPE_USER's.
        subprocess.run(
            ["postalias", "-c", str(postfix.config), str(aliases)], check=True, timeout=60
        )

    return write


@pytest.fixture
def workdir() -> Iterator[Path]:
    """World-writable, outside pytest's root-only tmp_path: the pipe runs as PIPE_USER."""
    path = Path(tempfile.mkdtemp(prefix="syn-pipe-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _env_file(path: Path, database_url: str) -> None:
    path.write_text(
        "# as /etc/syndicator/syndicator.env\n"
        f"SYNDICATOR_DATA_DIR={path.parent / 'var'}\n"
        f"SYNDICATOR_DATABASE_URL={database_url}\n"
        "SYNDICATOR_TOKEN_KEYS=pipe-key-new pipe-key-old\n"
        "SYNDICATOR_BOUNCE_ADDRESS=bounces@news.example.kr\n"
    )
    path.chmod(0o644)


def test_postfix_pipes_its_bounce_to_ingest_which_suppresses_the_subscriber(
    workdir: Path,
) -> None:
    database_url = f"sqlite:///{workdir / 'syndicator.db'}"
    upgrade(database_url)
    env_file = workdir / "syndicator.env"
    # First the database cannot be reached: nothing listens on port 1.
    _env_file(env_file, "postgresql://syndicator@127.0.0.1:1/none")
    relay = workdir / "relay.py"
    relay.write_text(RELAY.format(socket=str(workdir / "ingest.sock")))
    relay.chmod(0o644)

    with (
        ingest_server(workdir / "ingest.sock", env_file) as runs,
        private_postfix(MAIN_CF, before_start=_alias_table(relay)) as postfix,
        Database(database_url) as db,
    ):
        settings = mail_settings(
            workdir,
            SYNDICATOR_SMTP_URL=f"smtp://127.0.0.1:{postfix.smtp_port}",
            SYNDICATOR_DATABASE_URL=database_url,
            SYNDICATOR_TOKEN_KEYS="pipe-key-new pipe-key-old",
            SYNDICATOR_BOUNCE_ADDRESS="bounces@news.example.kr",
        )
        sid = add_subscriber(db, UNKNOWN)
        delivery_id, message_id = _send_newsletter(db, settings)

        wait_for(lambda: len(runs) == 1, seconds=60, what="Postfix to pipe the bounce")
        assert runs[0].returncode == 75 and "kept for later" in runs[0].output, runs
        wait_for(lambda: "status=deferred" in postfix.maillog(), seconds=30, what="a deferral")
        assert _status(db, sid) == ("active", None)

        _env_file(env_file, database_url)  # the database is back
        postfix.flush()
        wait_for(lambda: len(runs) == 2, seconds=60, what="Postfix to pipe the bounce again")
        assert runs[1].returncode == 0, runs[1].output
        assert _status(db, sid) == ("suppressed", "hard_bounce")
        with db.session() as session:
            (kept,) = session.scalars(select(MailFeedback))
            assert (kept.kind, kept.source, kept.status) == ("hard_bounce", "pipe", "5.1.1")
            assert (kept.subscriber_id, kept.delivery_id) == (sid, delivery_id)
            assert kept.answered_message_id == message_id
        # The pipe's exit reaches us before Postfix's log line about it does.
        verp_address = f"bounces+{verp.make_tag(settings, delivery_id, sid)}@news.example.kr"
        log = wait_for(
            lambda: _logged_pipe_delivery(postfix.maillog(), verp_address),
            seconds=30,
            what="Postfix to log the delivery to the pipe",
        )

    # The bounce went to the newsletter's own VERP address, and the alias got it whole.
    assert runs[1].environment["ORIGINAL_RECIPIENT"] == verp_address
    assert 'status=bounced (unknown user: "nosuchresident")' in log


def _logged_pipe_delivery(log: str, address: str) -> str:
    """The log, once a line records the delivery to ``address`` through the pipe."""
    delivered = any(
        f"to=<{address}>" in line and "delivered to command" in line for line in log.splitlines()
    )
    return log if delivered else ""


def _send_newsletter(db: Database, settings: Settings) -> tuple[int, str]:
    """One release's newsletter through the email channel: its delivery and Message-ID."""
    channel = EmailChannel(ChannelContext(settings=settings, db=db))
    queued: list[Enqueue] = []
    plan_event(db, {"email": channel}, publish(db, 1), queued.append)
    run_due(db, channel, [i for item in queued for i in item.delivery_ids])
    channel.close()
    assert set(ledger(db).values()) == {"succeeded"}, "Postfix took it"
    with db.session() as session:
        attempt = session.scalars(select(DeliveryAttempt)).one()
        assert attempt.message_id is not None
        return attempt.delivery_id, attempt.message_id


def _status(db: Database, sid: int) -> tuple[str, str | None]:
    with db.session() as session:
        row = session.get(Subscriber, sid)
        assert row is not None
        return row.status, row.suppressed_kind

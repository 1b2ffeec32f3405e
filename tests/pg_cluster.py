"""A PostgreSQL primary and a streaming standby of the test's own, from this machine's
server binaries: initdb a primary on a free port, ``pg_basebackup -R`` a standby from it,
start both; a test stops, restarts and promotes them at will. The machine's own
PostgreSQL is never touched.

PostgreSQL refuses to run as root: as root the servers run as the ``postgres`` user (the
server package creates it), in a directory outside pytest's (whose parents are private
to root). Without server binaries, or as root without that user, :func:`skip_reason`
says why and the tests skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.processes import wait_for
from tests.services import free_port

__all__ = [
    "PG_BIN",
    "PgServer",
    "ReplicatedPair",
    "pgbouncer",
    "pgbouncer_skip_reason",
    "replicated_pair",
    "skip_reason",
]


def _newest_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name or 0))
    return found[-1] if found else Path("/usr/lib/postgresql/none/bin")


PG_BIN = Path(os.environ.get("SYNDICATOR_TEST_PG_BIN") or _newest_bin())
_RUN_AS = "postgres"
DATABASE = "ha"


def skip_reason() -> str | None:
    """Why these servers cannot run here, or None."""
    if not (PG_BIN / "pg_ctl").exists():
        return f"no PostgreSQL server binaries in {PG_BIN} (set SYNDICATOR_TEST_PG_BIN)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(_RUN_AS)
        except KeyError:
            return f"running as root, and there is no {_RUN_AS!r} user to run the servers as"
    return None


def _as_server_user() -> list[str]:
    return ["runuser", "-u", _RUN_AS, "--"] if os.geteuid() == 0 else []


def _run(*command: str) -> None:
    done = subprocess.run(
        [*_as_server_user(), *command], capture_output=True, text=True, timeout=120
    )
    if done.returncode:
        raise RuntimeError(f"{command[0]} failed: {done.stderr or done.stdout}")


@dataclass
class PgServer:
    directory: Path
    port: int

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{self.host}/{DATABASE}"

    def start(self) -> None:
        # No fsync: a test's data need not survive a power cut, and disks are shared.
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.directory / "postgres.log")
        _run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        """A fast shutdown, as a restart or a switchover does: every connection is cut at
        once, and the standby receives every WAL record before the server exits."""
        _run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def promote(self) -> None:
        _run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "promote")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def query(self, sql: str) -> object:
        admin = f"postgresql://postgres@{self.host}/{DATABASE}"
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql)
            row = cursor.fetchone() if cursor.description else None
            return row[0] if row else None


@dataclass
class ReplicatedPair:
    primary: PgServer
    standby: PgServer

    def url(self, *, read_write: bool = True) -> str:
        """Both servers in libpq's host list: the one that takes writes, or any."""
        hosts = f"{self.primary.host},{self.standby.host}"
        attrs = "read-write" if read_write else "any"
        return f"postgresql+psycopg://postgres@{hosts}/{DATABASE}?target_session_attrs={attrs}"

    def caught_up(self) -> None:
        """Wait until the standby has replayed everything the primary wrote so far."""
        target = self.primary.query("SELECT pg_current_wal_lsn()::text")
        wait_for(
            lambda: self.standby.query(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"),
            seconds=60,
            what="the standby to catch up",
        )


def _directory(name: str) -> Path:
    directory = Path(tempfile.mkdtemp(prefix=f"syndicator-pg-{name}-"))
    if os.geteuid() == 0:
        shutil.chown(directory, _RUN_AS, _RUN_AS)
    return directory


@contextmanager
def replicated_pair() -> Iterator[ReplicatedPair]:
    """A primary with database ``ha``, and a standby streaming from it."""
    primary = PgServer(_directory("primary"), free_port())
    standby = PgServer(_directory("standby"), free_port())
    try:
        initdb = (str(PG_BIN / "initdb"), "--no-sync", "-A", "trust", "-U", "postgres")
        _run(*initdb, "-D", str(primary.data))
        primary.start()
        with psycopg.connect(
            f"postgresql://postgres@{primary.host}/postgres", autocommit=True
        ) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        _run(
            str(PG_BIN / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            # A fast checkpoint to start from, not one spread over minutes.
            *("-D", str(standby.data), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"),
        )
        standby.start()
        yield ReplicatedPair(primary, standby)
    finally:
        for server in (standby, primary):
            if server.running():
                server.stop()
            shutil.rmtree(server.directory, ignore_errors=True)


def _pgbouncer_binary() -> str | None:
    # Debian's package puts it in /usr/sbin, which a user's PATH may leave out.
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")


def pgbouncer_skip_reason() -> str | None:
    if _pgbouncer_binary() is None:
        return "no pgbouncer on PATH nor in /usr/sbin (apt-get install pgbouncer)"
    if os.geteuid() == 0:  # PgBouncer refuses to run as root too
        try:
            pwd.getpwnam(_RUN_AS)
        except KeyError:
            return f"running as root, and there is no {_RUN_AS!r} user to run pgbouncer as"
    return None


@contextmanager
def pgbouncer(server_port: int, pool_size: int) -> Iterator[int]:
    """PgBouncer in transaction mode on a free port before the server on ``server_port``,
    ``pool_size`` server connections per database; yields its port."""
    directory = _directory("pgbouncer")
    port = free_port()
    config = directory / "pgbouncer.ini"
    config.write_text(
        f"""[databases]
* = host=127.0.0.1 port={server_port} user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = {pool_size}
ignore_startup_parameters = extra_float_digits
logfile = {directory / "pgbouncer.log"}
""",
        encoding="utf-8",
    )
    binary = _pgbouncer_binary() or "pgbouncer"
    process = subprocess.Popen(
        [*_as_server_user(), binary, str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def answers() -> bool:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres"):
            return True

    try:
        wait_for(answers, seconds=30, what="pgbouncer to accept connections")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)

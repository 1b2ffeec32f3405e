"""A private Dovecot IMAP server for tests: its configuration, password file, mail and
sockets all in a temp dir, IMAPS on a free loopback port with a self-signed certificate.

Nothing outside the temp dir changes: ``dovecot -c <dir>/dovecot.conf`` runs it and the
test stops it. Dovecot's master starts as root and runs its login processes as its own
users, so this needs root and Debian's dovecot-imapd package (.ci/run installs it).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tests.processes import wait_for
from tests.services import free_port
from tests.unit.bounces.providers.signing import key_pem, self_signed

__all__ = ["DOVECOT", "Dovecot", "dovecot_missing", "running_dovecot"]

DOVECOT = Path("/usr/sbin/dovecot")
USER, PASSWORD = "bounces", "p@ss word/한"
# Mail is stored as this system user (Dovecot refuses root).
MAIL_USER = "mail"

CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
auth_mechanisms = plain
first_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port}
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
"""


def dovecot_missing() -> str | None:
    """Why a private Dovecot cannot run here, or None."""
    if not DOVECOT.exists():
        return "needs Debian's dovecot-imapd package"
    if os.geteuid() != 0:
        return "needs root (Dovecot's master drops to its own users)"
    try:
        pwd.getpwnam("dovenull")
        pwd.getpwnam(MAIL_USER)
    except KeyError:
        return "needs the dovenull and mail users the package makes"
    return None


@dataclass(frozen=True)
class Dovecot:
    port: int
    ca_file: Path
    user: str = USER
    password: str = PASSWORD

    def url(self, folder: str = "INBOX") -> str:
        user, password = quote(self.user, safe=""), quote(self.password, safe="")
        return f"imaps://{user}:{password}@127.0.0.1:{self.port}/{folder}"


@contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    # Not pytest's tmp_path: Dovecot's own users must reach the files, and pytest's base
    # directory is root's alone.
    root = Path(tempfile.mkdtemp(prefix="syndicator-dovecot-"))
    try:
        root.chmod(0o755)
        with _dovecot(root) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def _dovecot(root: Path) -> Iterator[Dovecot]:
    account = pwd.getpwnam(MAIL_USER)
    home = root / "home"
    home.mkdir()
    shutil.chown(home, account.pw_uid, account.pw_gid)
    tls = self_signed("127.0.0.1", hosts=("127.0.0.1",))
    (root / "cert.pem").write_bytes(tls.pem)
    (root / "key.pem").write_bytes(key_pem(tls.key))
    (root / "key.pem").chmod(0o600)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n", encoding="utf-8")
    port = free_port()
    conf = root / "dovecot.conf"
    conf.write_text(
        CONF.format(root=root, port=port, uid=account.pw_uid, gid=account.pw_gid),
        encoding="utf-8",
    )
    # The master forks away and keeps its output open: hand it none to hold.
    subprocess.run(
        [str(DOVECOT), "-c", str(conf)],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid_file = root / "run" / "master.pid"
    try:
        wait_for(lambda: pid_file.exists() and _listening(port), 20, "dovecot to listen")
        yield Dovecot(port=port, ca_file=root / "cert.pem")
    finally:
        if pid_file.exists():
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not _alive(pid), 20, "dovecot to stop")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

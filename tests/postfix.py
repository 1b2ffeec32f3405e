"""A private Postfix instance for tests: its own configuration, queue and data
directories in a temp dir, SMTP on a free loopback port, no chroot, no DNS. It runs from
``postfix -c <dir>`` and stops with the test; nothing outside the temp dir changes.

Postfix's daemons start as root and drop to the ``postfix`` user, so a test using it
needs root and Debian's postfix package (.ci/run installs it): mark it
``needs_postfix``."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.processes import wait_for
from tests.services import free_port

__all__ = ["POSTFIX", "PostfixInstance", "needs_postfix", "private_postfix"]

POSTFIX = Path("/usr/sbin/postfix")


def _postfix_user() -> bool:
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return False
    return True


needs_postfix = pytest.mark.skipif(
    not POSTFIX.exists() or os.geteuid() != 0 or not _postfix_user(),
    reason="needs Debian's postfix package and root (Postfix's daemons drop to 'postfix')",
)

# What every instance shares; a test's main.cf adds its own lines (mydestination,
# transports, aliases).
MAIN_CF = """\
compatibility_level = 3.6
config_directory = {root}/etc
queue_directory = {root}/spool
data_directory = {root}/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.syndicator.test
mydomain = syndicator.test
myorigin = $myhostname
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtp_dns_support_level = disabled
maillog_file_prefixes = {root}
maillog_file = {root}/maillog
smtputf8_enable = no
biff = no
"""

# Every service chrooted off (the default Debian master.cf chroots several into the
# system queue), the SMTP listener on the test's port.
MASTER_CF = """\
127.0.0.1:{smtp_port} inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
local     unix  - n n -    - local
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class PostfixInstance:
    def __init__(self, root: Path, smtp_port: int) -> None:
        self.root = root
        self.smtp_port = smtp_port
        self.config = root / "etc"

    def maillog(self) -> str:
        try:
            return (self.root / "maillog").read_text(errors="replace")
        except OSError:
            return "(no maillog)"

    def flush(self) -> None:
        """Try every deferred message again now (``postqueue -f``)."""
        subprocess.run(
            ["postqueue", "-c", str(self.config), "-f"], check=True, capture_output=True, timeout=60
        )


def _master_gone(root: Path) -> bool:
    pid_file = root / "spool" / "pid" / "master.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@contextmanager
def private_postfix(
    main_cf: str = "", before_start: Callable[[PostfixInstance], None] | None = None
) -> Iterator[PostfixInstance]:
    """A running instance whose main.cf is :data:`MAIN_CF` plus ``main_cf`` (formatted
    with ``root``, the instance's directory). ``before_start(instance)`` may add files
    (an alias table) before the master starts."""
    # Not under pytest's tmp_path: that is private to root (0700), and Postfix's daemons
    # run as 'postfix'; and its UNIX sockets want a short path.
    root = Path(tempfile.mkdtemp(prefix="syn-postfix-"))
    try:
        root.chmod(0o755)
        for sub in ("etc", "spool", "data"):
            (root / sub).mkdir()
        shutil.chown(root / "data", user="postfix")
        instance = PostfixInstance(root, free_port())
        (root / "etc" / "main.cf").write_text((MAIN_CF + main_cf).format(root=root))
        (root / "etc" / "master.cf").write_text(MASTER_CF.format(smtp_port=instance.smtp_port))
        if before_start is not None:
            before_start(instance)
        command = [str(POSTFIX), "-c", str(root / "etc")]
        subprocess.run([*command, "start"], check=True, capture_output=True, timeout=60)
        try:
            yield instance
        finally:
            subprocess.run([*command, "stop"], capture_output=True, timeout=60)
            wait_for(lambda: _master_gone(root) or None, seconds=30, what="postfix to stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)

"""`syndicator run`'s supervisor stops a child warm: the child's own processes are left
to finish their work, as a Celery worker's pool processes must finish their task."""

from __future__ import annotations

import sys
from pathlib import Path

from syndicator.runtime.supervisor import Child, Supervisor
from tests.processes import children_of, wait_for

# A worker with one pool process in its group. On SIGTERM the worker tells the pool
# process to finish its task and waits for it, as Celery's warm shutdown does; a pool
# process that is signalled itself records that it died mid-task.
WORKER = r"""
import os, signal, sys
out = sys.argv[1]
tasks, done = os.pipe()
pool = os.fork()
if pool == 0:
    os.close(done)
    def killed(*_):
        with open(out, "a") as f:
            f.write("terminated mid-task\n")
        os._exit(1)
    signal.signal(signal.SIGTERM, killed)
    with open(out + ".ready", "w") as f:
        f.write("pool ready")
    os.read(tasks, 1)
    with open(out, "a") as f:
        f.write("finished\n")
    os._exit(0)
os.close(tasks)
def shutdown(*_):
    os.write(done, b"x")
    os.waitpid(pool, 0)
    sys.exit(0)
signal.signal(signal.SIGTERM, shutdown)
while True:
    signal.pause()
"""

# A child that ignores SIGTERM, with a grandchild that does too.
STUBBORN = r"""
import os, signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.fork()
with open(sys.argv[1] + f".{os.getpid()}", "w") as f:
    f.write("ready")
while True:
    signal.pause()
"""


def test_a_warm_stop_lets_the_childs_own_processes_finish(tmp_path: Path) -> None:
    out = tmp_path / "worker.log"
    supervisor = Supervisor([Child("worker", [sys.executable, "-c", WORKER, str(out)])], {})
    supervisor.start()
    wait_for(lambda: Path(f"{out}.ready").exists(), 30, "the pool process")
    supervisor.stop(grace_seconds=30)
    assert out.read_text() == "finished\n"
    assert supervisor.running == {}


def test_a_child_that_ignores_sigterm_is_killed_with_its_group(tmp_path: Path) -> None:
    out = tmp_path / "stubborn"
    supervisor = Supervisor([Child("stubborn", [sys.executable, "-c", STUBBORN, str(out)])], {})
    supervisor.start()
    leader = supervisor.running["stubborn"].pid
    wait_for(lambda: len(list(tmp_path.glob("stubborn.*"))) == 2, 30, "both processes")
    grandchildren = children_of(leader)
    assert len(grandchildren) == 1
    supervisor.stop(grace_seconds=0.2)
    assert supervisor.running == {}
    # SIGKILL is delivered asynchronously: the grandchild is dead (or a zombie awaiting
    # its new parent) once the kernel gets to it.
    wait_for(lambda: _dead(grandchildren[0]), 30, "the grandchild to be killed")


def _dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True  # gone, and reaped
    return state == "Z"

"""The suite's system slots (tests/system_slots.py): with two slots, a third xdist worker
that wants to start processes waits until one of the two gives its slot back."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A stand-in for an xdist worker: takes a slot, says so, and gives it back on a line.
WORKER = """
import sys
from pathlib import Path
from tests import system_slots
system_slots.hold()
print("held", Path(system_slots._held.name).name, flush=True)
sys.stdin.readline()
system_slots.release()
print("released", flush=True)
"""


def test_a_third_worker_waits_for_one_of_two_slots() -> None:
    run = f"slots-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "PYTEST_XDIST_TESTRUNUID": run,
        "SYNDICATOR_TEST_SYSTEM_SLOTS": "2",
        "PYTHONPATH": str(ROOT),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        # Whichever two get the slots say so; the third cannot while both are held.
        holders: list[subprocess.Popen[str]] = []
        slots: dict[subprocess.Popen[str], str] = {}
        while len(holders) < 2:
            others = [w.stdout for w in workers if w not in holders and w.stdout is not None]
            readable, _, _ = select.select(others, [], [], 60)
            assert readable, "no worker took a slot"
            for worker in workers:
                if worker.stdout in readable and worker not in holders:
                    said, slots[worker] = worker.stdout.readline().split()
                    assert said == "held"
                    holders.append(worker)
        (waiting,) = [w for w in workers if w not in holders]
        assert waiting.stdout is not None
        # Both slots are taken (flocked), so the third is still in hold(): it has said nothing.
        assert select.select([waiting.stdout], [], [], 0)[0] == []
        assert waiting.poll() is None

        first = holders[0]
        assert first.stdin is not None and first.stdout is not None
        first.stdin.write("\n")
        first.stdin.flush()
        assert first.stdout.readline().strip() == "released"
        # It took the freed slot, the only one there was: it had been waiting for it.
        assert waiting.stdout.readline().split() == ["held", slots[first]]
        assert slots[holders[0]] != slots[holders[1]]
    finally:
        for worker in workers:
            worker.kill()
            worker.communicate()  # waits, and closes the pipes
        shutil.rmtree(Path(tempfile.gettempdir()) / f"syndicator-test-slots-{run}", True)

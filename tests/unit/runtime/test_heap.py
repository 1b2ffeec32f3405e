"""A settled process collects less often and never walks the heap it was set up with."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from syndicator.runtime.heap import YOUNG_THRESHOLD

PROBE = """
import gc, json
from syndicator.runtime.heap import settle_heap
before = (gc.get_freeze_count(), gc.get_threshold())
settle_heap()
print(json.dumps([before, [gc.get_freeze_count(), gc.get_threshold()]]))
"""


def test_settling_freezes_the_heap_and_raises_the_young_threshold():
    # In a child process: the test runner's own collector is left as it is.
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    (frozen_before, threshold_before), (frozen_after, threshold_after) = json.loads(out)
    assert frozen_before == 0 and threshold_before[0] == 700  # CPython's defaults
    assert frozen_after > 1_000  # every import and object built so far
    assert threshold_after[0] == YOUNG_THRESHOLD


WORKER_CHILD = """
import gc, json
from celery.signals import worker_process_init
import workers.app  # connects the process hooks
worker_process_init.send(sender=None)  # what a prefork child runs before its first task
from workers.process import _current
print(json.dumps([gc.get_freeze_count(), gc.get_threshold()[0], _current is not None]))
"""


@pytest.mark.slow
def test_a_worker_child_builds_its_runtime_and_settles_before_its_first_task(tmp_path):
    env = {**os.environ, "SYNDICATOR_DATA_DIR": str(tmp_path)}
    env.pop("SYNDICATOR_DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", WORKER_CHILD], capture_output=True, text=True, check=True, env=env
    ).stdout
    frozen, young, built = json.loads(out.splitlines()[-1])
    assert frozen > 1_000 and young == YOUNG_THRESHOLD and built

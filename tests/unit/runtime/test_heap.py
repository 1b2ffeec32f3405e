"""A settled process collects less often and never walks the heap it was set up with."""

from __future__ import annotations

import json
import subprocess
import sys

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

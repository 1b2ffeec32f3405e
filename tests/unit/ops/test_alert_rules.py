"""ops/alerts.yml: valid rules that fire when they should (``promtool test rules``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

OPS = Path(__file__).resolve().parents[3] / "ops"
PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian package prometheus) is absent")
def test_alert_rules_pass_their_promtool_tests():
    assert PROMTOOL is not None
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]):
        result = subprocess.run(
            [PROMTOOL, *args], cwd=OPS, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr

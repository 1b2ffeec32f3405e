"""A worker or beat process reads its settings once, when the Celery app is imported."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import workers.settings


def test_the_settings_are_read_from_the_environment_at_import(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    original = workers.settings.settings
    monkeypatch.setenv("SYNDICATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SYNDICATOR_WORKER_STALE_SECONDS", "77")
    try:
        read = importlib.reload(workers.settings).settings
        assert read.data_dir == tmp_path / "var"
        assert read.worker_stale_seconds == 77
        assert importlib.import_module("workers.settings").settings is read  # not read again
    finally:
        workers.settings.settings = original

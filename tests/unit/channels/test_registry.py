"""The registry builds the built-in channels, plus any named in SYNDICATOR_EXTRA_CHANNELS."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicator.channels.base import ChannelContext
from syndicator.channels.registry import build_channels, load_channel_type
from syndicator.config import load_settings
from syndicator.store.db import Database
from tests.integration.recording_channels import SlowRecorded, SlowRecordedAsync


def test_extra_channels_come_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(tmp_path),
            "SYNDICATOR_EXTRA_CHANNELS": "tests.integration.recording_channels:SlowRecorded",
        }
    )
    with Database(settings.database_url) as db:
        channels = build_channels(ChannelContext(settings, db))
    assert set(channels) == {"feeds", "websub", "email", "webhooks", "notices", "recorded"}
    assert isinstance(channels["recorded"], SlowRecorded)


def test_without_the_setting_only_the_built_in_channels_exist(tmp_path: Path) -> None:
    settings = load_settings({"SYNDICATOR_DATA_DIR": str(tmp_path)})
    with Database(settings.database_url) as db:
        assert set(build_channels(ChannelContext(settings, db))) == {
            "feeds",
            "websub",
            "email",
            "webhooks",
            "notices",
        }


def test_a_spec_must_name_a_channel_class() -> None:
    assert load_channel_type("tests.integration.recording_channels:SlowRecordedAsync") is (
        SlowRecordedAsync
    )
    with pytest.raises(ValueError, match="not a Channel"):
        load_channel_type("tests.integration.recording_channels:ROWS")
    with pytest.raises(ModuleNotFoundError):
        load_channel_type("tests.no_such_module:Channel")

"""What the web's pure parts are rendered and checked with: a public site's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicator.config import Settings, load_settings


@pytest.fixture
def site_settings(tmp_path: Path) -> Settings:
    return load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(tmp_path),
            "SYNDICATOR_BASE_URL": "https://press.example.kr",
            "SYNDICATOR_TOKEN_KEYS": "unit-key",
        }
    )

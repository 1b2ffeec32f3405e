"""Settings and messages for the mail tests, parsed back only with the ``email`` package."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from syndicator.config import Settings, load_settings
from syndicator.subscriptions.tokens import preferences_url, unsubscribe_url

__all__ = ["assert_wire_format", "links", "mail_settings", "parse"]


def mail_settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(tmp_path / "var"),
            "SYNDICATOR_BASE_URL": "https://press.example.kr",
            "SYNDICATOR_TOKEN_KEYS": "test-token-key-new test-token-key-old",
            **env,
        }
    )


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def assert_wire_format(raw: bytes) -> None:
    """CRLF line endings only, and no line over 998 bytes (RFC 5321)."""
    assert re.search(rb"(?<!\r)\n", raw) is None, "bare LF"
    assert re.search(rb"\r(?!\n)", raw) is None, "bare CR"
    longest = max(len(line) for line in raw.split(b"\r\n"))
    assert longest <= 998, f"a line of {longest} bytes"


def links(settings: Settings, subscriber_id: int) -> dict[str, str]:
    """A subscriber's links, as the email channel makes them."""
    return {
        "unsubscribe_url": unsubscribe_url(settings, subscriber_id, 0),
        "preferences_url": preferences_url(settings, subscriber_id, 0),
    }

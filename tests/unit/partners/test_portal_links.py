"""Portal links: only a genuine, unexpired portal token names a partner. Tokens are made
here with itsdangerous directly (an independent client), never with the module's own
minting, apart from the round trip."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from syndicator.config import TokenKeysMissing, load_settings
from syndicator.partners.portal_links import (
    SALT,
    PortalLinkExpired,
    PortalLinkInvalid,
    make_link_token,
    read_link_token,
)
from syndicator.subscriptions.tokens import make_token

KEYS = ("portal-key-new", "portal-key-old")
SETTINGS = load_settings(
    {"SYNDICATOR_TOKEN_KEYS": " ".join(KEYS), "SYNDICATOR_DATA_DIR": "/nonexistent"}
)


def _signed(payload: object, key: str = KEYS[0], salt: str = SALT, age: float = 0) -> str:
    class Aged(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - age)

    return URLSafeTimedSerializer(key, salt=salt, signer=Aged).dumps(payload)


def test_a_link_names_its_partner():
    assert read_link_token(SETTINGS, make_link_token(SETTINGS, 42)) == 42
    # An older key still listed verifies: links survive a key rotation.
    assert read_link_token(SETTINGS, _signed(["portal", 7], key=KEYS[1])) == 7


def test_expired_links_are_refused_and_the_window_is_configurable():
    old = _signed(["portal", 7], age=25 * 3600)
    with pytest.raises(PortalLinkExpired):
        read_link_token(SETTINGS, old)
    assert read_link_token(SETTINGS.with_(portal_link_hours=48.0), old) == 7


def test_other_purposes_and_keys_open_nothing():
    for token in (
        make_token(SETTINGS, "preferences", 7),
        make_token(SETTINGS, "unsubscribe", 7),
        _signed(["portal", 7], salt="syndicator.subscriptions.preferences"),
        _signed(["portal", 7], key="someone-elses-key"),
        _signed(7),
        _signed(["portal", "7"]),
        _signed(["portal", True]),
        _signed(["portal", 0]),
        _signed(["other", 7]),
    ):
        with pytest.raises(PortalLinkInvalid):
            read_link_token(SETTINGS, token)


def test_no_key_no_link():
    with pytest.raises(TokenKeysMissing):
        make_link_token(SETTINGS.with_(token_keys=()), 1)


@settings(max_examples=150, deadline=None)
@given(partner_id=st.integers(1, 2**31), position=st.integers(0, 10_000), char=st.characters())
def test_no_changed_character_opens_another_partner(partner_id: int, position: int, char: str):
    token = make_link_token(SETTINGS, partner_id)
    index = position % len(token)
    tampered = token[:index] + char + token[index + 1 :]
    try:
        read = read_link_token(SETTINGS, tampered)
    except PortalLinkInvalid:
        return
    # Only a spelling of the very same bytes (base64's unused low bits) still reads, and
    # it names the same partner: no change opens another one.
    assert read == partner_id


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=200))
def test_arbitrary_text_is_refused(text: str):
    with pytest.raises(PortalLinkInvalid):
        read_link_token(SETTINGS, text)


@settings(max_examples=50, deadline=None)
@given(hours=st.floats(1, 24 * 30), over=st.integers(2, 3600))
def test_a_link_is_good_until_its_hours_are_up(hours: float, over: int):
    limited = SETTINGS.with_(portal_link_hours=hours)
    fresh = _signed(["portal", 3], age=hours * 3600 - 2)
    assert read_link_token(limited, fresh) == 3
    with pytest.raises(PortalLinkExpired):
        read_link_token(limited, _signed(["portal", 3], age=hours * 3600 + over))

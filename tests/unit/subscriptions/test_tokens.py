"""Subscriber tokens: single purpose, tamper-proof, rotatable, confirm ones expire."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from syndicator.config import Settings, load_settings
from syndicator.subscriptions.tokens import (
    PURPOSES,
    TokenExpired,
    TokenInvalid,
    TokenKeysMissing,
    _IdSerializer,
    confirm_token,
    make_token,
    preferences_url,
    read_link,
    read_token,
    unsubscribe_url,
)

SETTINGS = load_settings(
    {"SYNDICATOR_TOKEN_KEYS": "key-new key-old", "SYNDICATOR_BASE_URL": "https://x.kr"}
)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
ids = st.integers(min_value=1, max_value=2**53)


def _with_keys(*keys: str) -> Settings:
    return SETTINGS.with_(token_keys=keys)


@given(ids, st.sampled_from(PURPOSES))
def test_a_token_carries_its_subscriber_id(subscriber_id: int, purpose: str) -> None:
    token = make_token(SETTINGS, purpose, subscriber_id)  # type: ignore[arg-type]
    assert read_token(SETTINGS, purpose, token) == subscriber_id  # type: ignore[arg-type]


def test_a_token_is_good_for_its_own_purpose_only() -> None:
    for made in PURPOSES:
        token = make_token(SETTINGS, made, 7)
        for used in PURPOSES:
            if used != made:
                with pytest.raises(TokenInvalid):
                    read_token(SETTINGS, used, token)


@given(
    ids,
    st.sampled_from(PURPOSES),
    st.integers(min_value=0),
    st.sampled_from(ALPHABET),
)
def test_changing_any_character_is_refused(
    subscriber_id: int, purpose: str, position: int, replacement: str
) -> None:
    token = make_token(SETTINGS, purpose, subscriber_id)  # type: ignore[arg-type]
    position %= len(token)
    if token[position] == replacement:
        replacement = "A" if replacement != "A" else "B"
    tampered = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(TokenInvalid):
        read_token(SETTINGS, purpose, tampered)  # type: ignore[arg-type]


@given(st.text(max_size=200))
def test_arbitrary_text_is_refused(text: str) -> None:
    with pytest.raises(TokenInvalid):
        read_token(SETTINGS, "unsubscribe", text)


def test_a_token_holds_the_id_and_never_the_address() -> None:
    token = make_token(SETTINGS, "unsubscribe", 1234)
    payload = token.split(".")[0]
    assert URLSafeTimedSerializer("x").load_payload(payload.encode()) == 1234


def test_the_newest_key_signs_and_a_rotated_out_key_keeps_verifying() -> None:
    old_token = make_token(_with_keys("key-old"), "unsubscribe", 5)
    # Rotated: a new key first, the old one still listed.
    assert read_token(SETTINGS, "unsubscribe", old_token) == 5
    new_token = make_token(SETTINGS, "unsubscribe", 6)
    assert read_token(_with_keys("key-new"), "unsubscribe", new_token) == 6
    with pytest.raises(TokenInvalid):
        read_token(_with_keys("key-old"), "unsubscribe", new_token)
    # Once the old key is dropped, its tokens stop working.
    with pytest.raises(TokenInvalid):
        read_token(_with_keys("key-new"), "unsubscribe", old_token)


def _signed_ago(monkeypatch: pytest.MonkeyPatch, age: timedelta, purpose: str) -> str:
    then = int(time.time() - age.total_seconds())
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: then)
        return make_token(SETTINGS, purpose, 9)  # type: ignore[arg-type]


def test_confirm_tokens_expire_after_72_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = _signed_ago(monkeypatch, timedelta(hours=71), "confirm")
    assert read_token(SETTINGS, "confirm", fresh) == 9
    stale = _signed_ago(monkeypatch, timedelta(hours=73), "confirm")
    with pytest.raises(TokenExpired):
        read_token(SETTINGS, "confirm", stale)


def test_unsubscribe_and_preferences_tokens_never_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    for purpose in ("unsubscribe", "preferences"):
        ancient = _signed_ago(monkeypatch, timedelta(days=3650), purpose)
        assert read_token(SETTINGS, purpose, ancient) == 9


def test_an_expired_token_with_a_bad_signature_is_invalid_not_expired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stale = _signed_ago(monkeypatch, timedelta(hours=100), "confirm")
    with pytest.raises(TokenInvalid):
        read_token(_with_keys("another-key"), "confirm", stale)


def test_a_payload_that_is_not_a_positive_id_is_refused() -> None:
    for payload in ("someone@example.org", 0, -3, True, [1], [1, 0], [1, -2], [0, 3], [1, 2, 3]):
        serializer = URLSafeTimedSerializer(
            ["key-new"], salt="syndicator.subscriptions.unsubscribe"
        )
        with pytest.raises(TokenInvalid):
            read_token(SETTINGS, "unsubscribe", str(serializer.dumps(payload)))


def test_no_keys_is_a_configuration_error_naming_the_setting() -> None:
    with pytest.raises(TokenKeysMissing, match="SYNDICATOR_TOKEN_KEYS"):
        confirm_token(_with_keys(), 1)


def test_urls_lead_to_the_pages() -> None:
    assert unsubscribe_url(SETTINGS, 3, 0).startswith("https://x.kr/unsubscribe/")
    assert preferences_url(SETTINGS, 3, 2).startswith("https://x.kr/preferences/")


@given(subscriber_id=st.integers(1, 2**40), number=st.integers(0, 2**40))
def test_a_token_carries_its_number_and_number_zero_is_the_old_form(
    subscriber_id: int, number: int
) -> None:
    token = make_token(SETTINGS, "preferences", subscriber_id, number)
    assert read_link(SETTINGS, "preferences", token) == (subscriber_id, number)
    assert read_token(SETTINGS, "preferences", token) == subscriber_id
    if number == 0:  # links mailed before versions existed read as version 0
        assert token == make_token(SETTINGS, "preferences", subscriber_id)


@given(
    subscriber_id=st.integers(1, 2**53),
    number=st.integers(0, 2**31),
    purpose=st.sampled_from(PURPOSES),
    now=st.integers(1_600_000_000, 2_200_000_000),
)
def test_a_token_is_exactly_the_one_itsdangerous_makes(
    subscriber_id: int, number: int, purpose: str, now: int
) -> None:
    """The keyed HMAC made once per purpose signs the same bytes as itsdangerous's own
    ``dumps`` at the same second, so every link ever sent still reads the same way."""
    salt = f"syndicator.subscriptions.{purpose}"
    # Newest key last, as itsdangerous wants; a payload as make_token writes it. The
    # serializer the tokens were made with before, itsdangerous's less its zlib try.
    reference = _IdSerializer(["key-old", "key-new"], salt=salt)
    payload = [subscriber_id, number] if number else subscriber_id
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: now + 0.5)
        expected = reference.dumps(payload)
        token = make_token(SETTINGS, purpose, subscriber_id, number)  # type: ignore[arg-type]
        assert read_link(SETTINGS, purpose, token) == (subscriber_id, number)  # type: ignore[arg-type]
    assert token == expected

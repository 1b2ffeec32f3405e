"""Sealing: round trips, key rotation, and plain text refused by a sealed column."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st

from syndicator.store.sealed import (
    InvalidEncryptionKey,
    Keyring,
    Sealed,
    SealedText,
    UnreadableSecret,
    generate_key,
)

A, B = generate_key(), generate_key()


@given(st.text(min_size=8))
def test_a_sealed_value_opens_to_itself_and_does_not_contain_it(plaintext: str):
    ring = Keyring((A,))
    sealed = ring.seal(plaintext)
    assert plaintext not in sealed.token and plaintext not in repr(sealed)
    assert ring.open(sealed) == plaintext
    assert Keyring((A,)).open(sealed) == plaintext  # a fresh keyring: no cache involved
    assert ring.seal(plaintext) != sealed  # a fresh IV every time


@given(st.text())
def test_a_rotated_value_opens_with_the_new_key_alone(plaintext: str):
    under_a = Keyring((A,)).seal(plaintext)
    both = Keyring((B, A))
    assert both.open(under_a) == plaintext and not both.is_current(under_a)
    rotated = both.rotate(under_a)
    assert both.is_current(rotated)
    assert Keyring((B,)).open(rotated) == plaintext
    with pytest.raises(UnreadableSecret, match="SYNDICATOR_ENCRYPTION_KEYS"):
        Keyring((B,)).open(under_a)


def test_the_first_key_seals():
    sealed = Keyring((B, A)).seal("x")
    assert Fernet(B.encode()).decrypt(sealed.token.encode()) == b"x"


@pytest.mark.parametrize("keys", [(), ("not-a-key",), (A, "short")])
def test_a_missing_or_malformed_key_names_the_setting(keys: tuple[str, ...]):
    with pytest.raises(InvalidEncryptionKey, match="SYNDICATOR_ENCRYPTION_KEYS"):
        Keyring(keys)


def test_a_sealed_column_refuses_plain_text():
    column = SealedText()
    sealed = Keyring((A,)).seal("whsec_x")
    assert column.process_bind_param(sealed, None) == sealed.token  # type: ignore[arg-type]
    assert column.process_result_value(sealed.token, None) == sealed  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Sealed"):
        column.process_bind_param("whsec_x", None)  # type: ignore[arg-type]
    assert column.process_bind_param(None, None) is None  # type: ignore[arg-type]
    assert isinstance(column.process_result_value(sealed.token, None), Sealed)  # type: ignore[arg-type]

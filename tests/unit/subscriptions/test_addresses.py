"""Addresses: normalised as email-validator does, checked without DNS."""

from __future__ import annotations

import pytest

from syndicator.subscriptions.addresses import InvalidAddress, address_key, normalise_address


def test_the_domain_is_lower_cased_and_the_local_part_kept() -> None:
    assert normalise_address(" Resident@Example.ORG ") == "Resident@example.org"
    assert normalise_address("주민@대구.kr") == "주민@대구.kr"


@pytest.mark.parametrize(
    "bad", [None, 3, "", "no-at-sign", "a@b", "a@@b.org", "x" * 65 + "@example.org", "a" * 400]
)
def test_bad_addresses_say_why(bad: object) -> None:
    with pytest.raises(InvalidAddress) as raised:
        normalise_address(bad)
    assert raised.value.reason


def test_the_rate_key_ignores_case_and_hides_the_address() -> None:
    key = address_key("Resident@example.org")
    assert key == address_key("resident@EXAMPLE.org")
    assert "resident" not in key

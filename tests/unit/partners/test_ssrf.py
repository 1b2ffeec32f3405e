"""The SSRF guard: every address in each refused range, and public ones, generated."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syndicator.partners.ssrf import (
    GuardedResolver,
    GuardRefused,
    StaticResolve,
    UrlRefused,
    check_address,
    check_url,
    check_url_offline,
)

REFUSED = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::1/128",
    "::/128",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
    "2001:db8::/32",
    "2002::/16",
    "2001::/32",
    "64:ff9b::/96",
    "64:ff9b:1::/48",
]
# Ranges that are public: what the guard must let through.
PUBLIC = [
    "8.8.8.0/24",
    "93.184.0.0/16",
    "1.1.1.0/24",
    "211.0.0.0/8",
    "2606:4700::/32",
    "2404:6800::/32",
]


def address_in(cidr: str) -> st.SearchStrategy[str]:
    network = ipaddress.ip_network(cidr)
    return st.integers(0, network.num_addresses - 1).map(lambda i: str(network[i]))


@st.composite
def refused_address(draw: st.DrawFn) -> tuple[str, str]:
    cidr = draw(st.sampled_from(REFUSED))
    return cidr, draw(address_in(cidr))


@given(refused_address())
def test_every_address_in_a_refused_range_is_refused(case: tuple[str, str]):
    cidr, address = case
    # The refusal names the one way around it, so the 422 alone tells the fix.
    with pytest.raises(UrlRefused, match="SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS"):
        check_address(address)
    # ... and allowed once its network is on the allow-list.
    check_address(address, [cidr])


@given(st.sampled_from(PUBLIC).flatmap(address_in))
def test_public_addresses_pass(address: str):
    check_address(address)


@given(address_in("0.0.0.0/0").filter(lambda a: not ipaddress.ip_address(a).is_global))
def test_ipv4_mapped_addresses_are_judged_as_ipv4(address: str):
    with pytest.raises(UrlRefused, match="SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS"):
        check_address(f"::ffff:{address}")


def test_a_mapped_address_on_the_allow_list_passes():
    check_address("::ffff:127.0.0.1", ["127.0.0.0/8"])


def test_cloud_metadata_is_refused_with_a_reason():
    with pytest.raises(UrlRefused, match="link-local"):
        check_url("http://169.254.169.254/latest/meta-data/")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://partner.example/", "http"),
        ("file:///etc/passwd", "http"),
        ("http:///path", "no host"),
        ("https://user:pw@partner.example/", "credentials"),
        ("http://[::1]:8080/", "loopback"),
        ("http://[2002:7f00:1::1]/", "6to4"),
        ("http://[2001:0:4136:e378::1]/", "Teredo"),
        ("http://[64:ff9b::7f00:1]/", "NAT64"),
        ("http://100.100.100.100/", "carrier-grade"),
        ("http://198.18.0.1/", "benchmarking"),
        ("http://192.0.2.10/", "documentation"),
    ],
)
def test_bad_urls_say_why(url: str, reason: str):
    with pytest.raises(UrlRefused, match=reason):
        check_url(url)


def test_every_address_a_name_resolves_to_is_checked():
    names = StaticResolve({"mixed.example": ["93.184.215.14", "10.0.0.5"]})
    with pytest.raises(UrlRefused, match=r"10\.0\.0\.5"):
        check_url("https://mixed.example/hook", (), names)


def test_a_name_that_does_not_resolve_is_refused_at_registration():
    with pytest.raises(UrlRefused, match="does not resolve"):
        check_url("https://nowhere.example/", (), StaticResolve({}))


def test_the_allow_list_is_the_only_way_around():
    names = StaticResolve({"receiver.test": ["127.0.0.1"]})
    with pytest.raises(UrlRefused):
        check_url("http://receiver.test:8080/", (), names)
    check_url("http://receiver.test:8080/", ["127.0.0.0/8"], names)


def test_offline_check_leaves_names_to_the_resolver():
    assert check_url_offline("https://partner.example/") == "partner.example"
    assert check_url_offline("http://8.8.8.8/") is None
    with pytest.raises(UrlRefused):
        check_url_offline("http://10.1.2.3/")


def test_the_connect_time_resolver_returns_only_checked_addresses():
    names = StaticResolve({"ok.example": ["93.184.215.14"], "bad.example": ["127.0.0.1"]})
    resolver = GuardedResolver((), names.aresolve)
    (result,) = asyncio.run(resolver.resolve("ok.example", 443))
    assert result["host"] == "93.184.215.14" and result["hostname"] == "ok.example"
    with pytest.raises(GuardRefused, match="loopback"):
        asyncio.run(resolver.resolve("bad.example", 443))
    with pytest.raises(OSError):  # a DNS failure, not a refusal
        asyncio.run(resolver.resolve("unknown.example", 443))

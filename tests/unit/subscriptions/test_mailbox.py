"""One key per inbox: every way of writing a mailbox maps to it, distinct ones never meet."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from syndicator.subscriptions.addresses import address_key, domain_key, normalise_address
from syndicator.subscriptions.mailbox import canonical_mailbox

_NAME = st.from_regex(r"[a-z0-9]([a-z0-9_]{0,10}[a-z0-9])?", fullmatch=True)
# A dot-atom: no dot before the "@" nor two in a row.
_TAG = st.from_regex(r"([a-z0-9]([a-z0-9.]{0,6}[a-z0-9])?)?", fullmatch=True).filter(
    lambda t: ".." not in t
)
_GENERAL_DOMAINS = st.sampled_from(["example.org", "daegu.go.kr", "naver.com", "대구.kr"])


def _recased(text: str, flips: list[bool]) -> str:
    return "".join(
        c.upper() if flip else c for c, flip in zip(text, flips + [False] * len(text), strict=False)
    )


@pytest.mark.slow
@given(name=_NAME, domain=_GENERAL_DOMAINS, tag=_TAG, flips=st.lists(st.booleans()))
def test_case_and_a_plus_tag_never_make_a_new_mailbox(
    name: str, domain: str, tag: str, flips: list[bool]
) -> None:
    variant = normalise_address(f"{_recased(name, flips)}+{tag}@{_recased(domain, flips)}")
    assert address_key(variant) == address_key(normalise_address(f"{name}@{domain}"))
    assert domain_key(variant) == domain_key(f"{name}@{domain}")


@given(
    name=_NAME,
    dots=st.lists(st.integers(0, 12), max_size=4),
    tag=_TAG,
    domain=st.sampled_from(["gmail.com", "googlemail.com", "GMail.com"]),
)
def test_gmail_ignores_dots_and_googlemail_is_gmail(
    name: str, dots: list[int], tag: str, domain: str
) -> None:
    dotted = name
    for at in sorted({d for d in dots if 0 < d < len(name)}, reverse=True):
        dotted = dotted[:at] + "." + dotted[at:]
    assume(".." not in dotted)
    variant = normalise_address(f"{dotted.upper()}+{tag}@{domain}")
    assert canonical_mailbox(variant) == f"{name}@gmail.com"


def test_the_documented_provider_rules() -> None:
    assert canonical_mailbox("Bob-news@yahoo.com") == "bob@yahoo.com"
    assert canonical_mailbox("bob+x@hotmail.com") == "bob@hotmail.com"
    assert canonical_mailbox("b.ob@outlook.com") == "b.ob@outlook.com"  # dots matter there
    assert canonical_mailbox("bob-x@example.org") == "bob-x@example.org"  # only Yahoo's "-"
    assert canonical_mailbox("주민+1@대구.kr") == "주민@xn--2e0bu9h.kr"  # IDNA


@given(a=_NAME, b=_NAME, domain=_GENERAL_DOMAINS)
def test_distinct_mailboxes_never_share_a_key(a: str, b: str, domain: str) -> None:
    assume(a != b)
    assert address_key(f"{a}@{domain}") != address_key(f"{b}@{domain}")
    assert address_key(f"{a}@{domain}") != address_key(f"{a}@other-{domain}")

"""Partner input: every bad value is refused with the field it came in and a reason."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syndicator.partners.registry import (
    EVENT_TYPES,
    MAX_HEADERS,
    RESERVED_HEADERS,
    InvalidPartner,
    PartnerPatch,
    PartnerSpec,
    load_spec,
)
from tests.strategies import extreme_int, hostile_text

GOOD: dict[str, Any] = {
    "name": "연합뉴스",
    "url": "https://partner.example/hooks",
    "event_types": ["release.published"],
    "headers": {"X-Env": "prod"},
    "rate_limit_per_s": 10,
    "max_in_flight": 4,
    "departments": [],
    "categories": [],
}
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}")


def refused_fields(data: dict[str, Any], model: type = PartnerSpec) -> set[str]:
    with pytest.raises(InvalidPartner) as refused:
        load_spec(model, data)
    for error in refused.value.errors:
        assert error["reason"], error
    return {e["field"].split(".")[0] for e in refused.value.errors}


def test_the_issue_example_is_accepted():
    spec = load_spec(PartnerSpec, GOOD)
    headers = {"X-Env": {"value": "prod", "secret": False}}
    expected = {
        **GOOD,
        "rate_limit_per_s": 10.0,
        "headers": headers,
        "signature_scheme": "v1",
        "contact_email": None,
    }
    assert spec.model_dump(mode="json") == expected


@pytest.mark.parametrize(
    ("given", "secret"),
    [
        ({"X-Env": "prod"}, False),
        ({"Authorization": "Bearer x"}, True),
        ({"cookie": "sid=1"}, True),
        ({"X-Api-Key": "k"}, True),  # looks like a credential: secret unless said otherwise
        ({"X-Partner-Token": "t"}, True),
        ({"X-Api-Key": {"value": "k", "secret": False}}, False),
        ({"X-Env": {"value": "prod", "secret": True}}, True),  # the operator marks it
        ({"X-Env": {"value": "prod"}}, False),
    ],
)
def test_a_header_is_secret_if_it_holds_a_credential_or_is_marked(given: Any, secret: bool):
    (spec,) = load_spec(PartnerSpec, {**GOOD, "headers": given}).headers.values()
    assert spec.secret is secret


@pytest.mark.parametrize("name", ["Authorization", "COOKIE"])
def test_authorization_and_cookie_cannot_be_marked_unsecret(name: str):
    data = {**GOOD, "headers": {name: {"value": "x", "secret": False}}}
    assert refused_fields(data) == {"headers"}


def test_a_new_partner_has_no_stored_header_value_to_keep():
    data = {**GOOD, "headers": {"Authorization": {"value": None, "secret": True}}}
    assert refused_fields(data) == {"headers"}
    patch = load_spec(PartnerPatch, {"headers": {"Authorization": {"value": None}}})
    assert patch.headers["Authorization"].value is None  # a change may keep it


def test_only_name_and_url_are_required():
    spec = load_spec(PartnerSpec, {"name": "A", "url": "http://a.example"})
    assert spec.event_types is None and spec.headers == {} and spec.departments == []
    assert refused_fields({"name": "A"}) == {"url"}
    assert refused_fields({"url": "http://a.example"}) == {"name"}


@given(st.one_of(hostile_text, st.sampled_from(["", "   ", "a\nb", "x\x00", "가" * 201])))
def test_bad_names(name: str):
    # Control characters and lone surrogates are refused before whitespace is stripped.
    ok = not re.search(r"[\x00-\x1f\x7f\ud800-\udfff]", name) and 1 <= len(name.strip()) <= 200
    if ok:
        load_spec(PartnerSpec, {**GOOD, "name": name})
    else:
        assert refused_fields({**GOOD, "name": name}) == {"name"}


@pytest.mark.parametrize(
    "url",
    [
        "ftp://partner.example/x",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://",
        "//partner.example/x",
        "partner.example/hooks",
        "https://user:pw@partner.example/x",
        "https://partner.example:99999/",
        "https://partner.example/a b",
        "https://partner.example/a\x00b",
        "https://partner.example/\x7f",
        "http://[::1",
        "https://" + "a" * 2100 + ".example/",
        "",
    ],
)
def test_bad_url_shapes(url: str):
    assert refused_fields({**GOOD, "url": url}) == {"url"}


@given(st.one_of(st.integers(), st.none(), st.lists(st.integers()), st.text(max_size=5)))
def test_non_string_urls(url: object):
    assert refused_fields({**GOOD, "url": url}) == {"url"}


@given(st.lists(st.text(max_size=30), min_size=1, max_size=3))
def test_unknown_event_types(types: list[str]):
    if set(types) <= set(EVENT_TYPES) and len(set(types)) == len(types):
        load_spec(PartnerSpec, {**GOOD, "event_types": types})
    else:
        assert refused_fields({**GOOD, "event_types": types}) == {"event_types"}


def test_an_empty_type_list_is_not_all_types():
    assert refused_fields({**GOOD, "event_types": []}) == {"event_types"}


@given(st.sampled_from(sorted(RESERVED_HEADERS)), st.randoms())
def test_reserved_headers_are_refused_in_any_case(name: str, rnd: Any):
    mixed = "".join(c.upper() if rnd.random() < 0.5 else c for c in name)
    assert refused_fields({**GOOD, "headers": {mixed: "x"}}) == {"headers"}


@given(st.text(min_size=0, max_size=120))
def test_header_names_are_tokens(name: str):
    data = {**GOOD, "headers": {name: "v"}}
    reserved = name.lower() in RESERVED_HEADERS or name.lower().startswith("webhook-")
    if TOKEN.fullmatch(name) and not reserved:
        load_spec(PartnerSpec, data)
    else:
        assert refused_fields(data) == {"headers"}


@given(hostile_text)
def test_header_values_carry_no_control_characters(value: str):
    data = {**GOOD, "headers": {"X-Key": value}}
    if re.search(r"[\x00-\x1f\x7f\ud800-\udfff]", value) or len(value) > 1000:
        assert refused_fields(data) == {"headers"}
    else:
        load_spec(PartnerSpec, data)


def test_header_bounds():
    too_many = {f"X-{n}": "v" for n in range(MAX_HEADERS + 1)}
    assert refused_fields({**GOOD, "headers": too_many}) == {"headers"}
    assert refused_fields({**GOOD, "headers": {"X-A": "1", "x-a": "2"}}) == {"headers"}
    assert refused_fields({**GOOD, "headers": {"X-A": 1}}) == {"headers"}
    assert refused_fields({**GOOD, "headers": {"X-A": "v" * 1001}}) == {"headers"}


@given(extreme_int)
def test_rate_limit_and_in_flight_bounds(value: Any):
    rate_ok = (
        isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 10_000
    ) or value is None
    data = {**GOOD, "rate_limit_per_s": value}
    if rate_ok:
        load_spec(PartnerSpec, data)
    else:
        assert refused_fields(data) == {"rate_limit_per_s"}
    flight_ok = (
        isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1000
    ) or value is None
    data = {**GOOD, "max_in_flight": value}
    if flight_ok:
        load_spec(PartnerSpec, data)
    else:
        assert refused_fields(data) == {"max_in_flight"}


@pytest.mark.parametrize("field", ["departments", "categories"])
def test_topic_lists(field: str):
    assert refused_fields({**GOOD, field: ["a", "a"]}) == {field}
    assert refused_fields({**GOOD, field: [""]}) == {field}
    assert refused_fields({**GOOD, field: ["x" * 201]}) == {field}
    assert refused_fields({**GOOD, field: ["a"] * 101}) == {field}
    assert refused_fields({**GOOD, field: "교통"}) == {field}
    assert load_spec(PartnerSpec, {**GOOD, field: ["교통", "복지"]})


def test_unknown_fields_are_named():
    assert refused_fields({**GOOD, "secret": "whsec_x"}) == {"secret"}
    assert refused_fields({"nmae": "typo"}, PartnerPatch) == {"nmae"}


def test_several_bad_fields_are_all_named():
    data = {**GOOD, "url": "ftp://x", "max_in_flight": 0, "headers": {"Host": "x"}}
    assert refused_fields(data) == {"url", "max_in_flight", "headers"}


def test_a_patch_changes_only_what_it_names():
    patch = load_spec(PartnerPatch, {"event_types": None, "rate_limit_per_s": 2})
    assert patch.model_dump(exclude_unset=True) == {"event_types": None, "rate_limit_per_s": 2.0}


@pytest.mark.parametrize("field", ["name", "url"])
def test_a_patch_cannot_remove_name_or_url(field: str):
    assert refused_fields({field: None}, PartnerPatch) == {field}

"""Every route of the real app, walked: each has a request policy, and the guard enforces
it before routing, authentication and parsing (cross-site forms 403, other media types
415, bodies over the cap 413, whether the length is declared or the body is chunked).

The app is called as ASGI with a body source that counts what it hands out, so "before
reading the body" is measured, not assumed. No request here carries a token: a 401 would
mean authentication ran first.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicator.config import Settings, load_settings
from syndicator.web.app import create_app
from syndicator.web.request_guard import RequestGuard
from syndicator.web.request_policy import (
    ADMIN_JSON_BYTES,
    FORM_BYTES,
    NO_BODY,
    SAFE,
    SAFE_METHODS,
    Policy,
    policy_table,
)

BASE_URL = "https://press.example.kr"
HOST = "press.example.kr"
_PARAM = re.compile(r"\{[^}]+\}")


@cache
def _settings() -> Settings:
    data = Path(tempfile.mkdtemp(prefix="syndicator-policy-"))
    return load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(data),
            "SYNDICATOR_DATABASE_URL": f"sqlite:///{data / 'never-opened.db'}",
            "SYNDICATOR_BASE_URL": BASE_URL,
            "SYNDICATOR_ADMIN_TOKEN": "policy-test-token",
        }
    )


@cache
def _app() -> FastAPI:
    return create_app(_settings())


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with every path parameter filled in
    template: str

    @property
    def policy(self) -> Policy:
        return policy_table(_settings()).policy_for(self.method, self.path)


def _endpoints() -> list[Endpoint]:
    found = []
    for route in iter_route_contexts(_app().routes):
        if route.path is None or route.methods is None:
            continue  # the /static mount: GET only, like every safe route below
        concrete = _PARAM.sub("1", route.path)
        # HEAD runs as the GET it stands for (web.head_requests), bodiless.
        found += [Endpoint(m, concrete, route.path) for m in sorted(route.methods) if m != "HEAD"]
    return found


ENDPOINTS = _endpoints()
STATE_CHANGING = [e for e in ENDPOINTS if e.method not in SAFE_METHODS]
FORMS = [e for e in STATE_CHANGING if e.policy.same_site_only]
TYPED = [e for e in STATE_CHANGING if e.policy.media_types]


@dataclass
class Exchange:
    """One request through the app: what it pulled of the body, what it answered."""

    pulled: int = 0
    pulls: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def headers(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.messages[0]["headers"]}

    def json(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.messages[1:]))


def _call(
    app: Any,
    method: str,
    path: str,
    headers: dict[str, str],
    chunks: Iterator[bytes] | None = None,
) -> Exchange:
    """``chunks``: the body as the server would hand it over; None: no body. An endless
    iterator stands for a client that keeps sending."""
    exchange = Exchange()
    raw = [(b"host", HOST.encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("203.0.113.9", 50000),
        "server": (HOST, 443),
    }
    source = chunks if chunks is not None else iter(())

    async def receive() -> dict[str, Any]:
        chunk = next(source, None)
        if chunk is None:
            if exchange.messages:
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": b"", "more_body": False}
        exchange.pulls += 1
        exchange.pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        exchange.messages.append(message)

    asyncio.run(app(scope, receive, send))
    return exchange


def _endless(size: int) -> Iterator[bytes]:
    while True:
        yield b"x" * size


def _assert_problem(exchange: Exchange, status: int) -> dict[str, Any]:
    assert exchange.status == status, (exchange.status, exchange.messages)
    assert exchange.headers["content-type"] == "application/problem+json"
    assert exchange.headers["x-content-type-options"] == "nosniff"
    document = exchange.json()
    assert document["status"] == status and document["errors"]
    return document


# --- The table covers every route --------------------------------------------------------


def test_the_walk_finds_the_routes_that_matter() -> None:
    found = {(e.method, e.template) for e in STATE_CHANGING}
    assert {
        ("POST", "/hooks/cms"),
        ("POST", "/subscriptions"),
        ("POST", "/subscribe"),
        ("POST", "/ops/login"),
        ("PATCH", "/api/partners/{partner_id}"),
        ("POST", "/unsubscribe/{token}"),
    } <= found
    assert len(STATE_CHANGING) >= 19


@pytest.mark.parametrize("endpoint", STATE_CHANGING, ids=lambda e: f"{e.method} {e.template}")
def test_every_state_changing_route_has_a_rule(endpoint: Endpoint) -> None:
    table = policy_table(_settings())
    rule = table.rule_for(endpoint.method, endpoint.path)
    assert rule is not None, (
        f"{endpoint.method} {endpoint.template} has no rule in "
        "syndicator/web/request_policy.py: it would take no body at all"
    )
    assert 0 < rule.policy.max_bytes <= _settings().max_body_bytes


def test_the_caps_are_the_documented_ones() -> None:
    table = policy_table(_settings())
    assert table.policy_for("POST", "/hooks/cms").max_bytes == 1024 * 1024
    assert table.policy_for("PATCH", "/api/partners/1").max_bytes == ADMIN_JSON_BYTES == 256 * 1024
    assert table.policy_for("POST", "/ops/login").max_bytes == FORM_BYTES == 64 * 1024
    assert table.policy_for("POST", "/subscriptions").max_bytes == FORM_BYTES
    assert table.policy_for("GET", "/feeds/rss.xml") is SAFE
    assert SAFE.max_bytes == FORM_BYTES
    assert table.policy_for("POST", "/no/such/route") is NO_BODY


def test_only_one_click_unsubscribe_takes_a_form_from_anywhere() -> None:
    from_anywhere = {
        (e.method, e.template)
        for e in STATE_CHANGING
        if not e.policy.same_site_only and not e.policy.media_types
    }
    assert from_anywhere == {("POST", "/unsubscribe/{token}")}
    # Everything else from anywhere takes JSON only, which no page can send cross-site.
    for endpoint in STATE_CHANGING:
        if not endpoint.policy.same_site_only and endpoint.policy.media_types:
            assert all("json" in t for t in endpoint.policy.media_types), endpoint
    # But SNS posts its JSON as text/plain: the SES hook alone takes it, signed by SNS.
    table = policy_table(_settings())
    assert table.policy_for("POST", "/hooks/bounces/ses").accepts("text/plain")
    for provider in ("postmark", "mailgun", "sendgrid"):
        assert not table.policy_for("POST", f"/hooks/bounces/{provider}").accepts("text/plain")


# --- Cross-site forms ---------------------------------------------------------------------

_OTHER_HOSTS = st.sampled_from(
    ["evil.example", "press.example.kr.evil.example", "example.kr", "www.press.example.kr"]
)
_OTHER_ORIGINS = st.one_of(
    st.just("null"),
    st.builds(
        lambda scheme, host, port: f"{scheme}://{host}{port}",
        st.sampled_from(["https", "http", "HTTPS"]),
        _OTHER_HOSTS,
        st.sampled_from(["", ":443", ":8443"]),
    ),
    st.just("http://press.example.kr"),  # same host, other scheme: another origin
)
_CROSS_SITE = st.one_of(
    st.builds(
        lambda value: {"Sec-Fetch-Site": value},
        st.sampled_from(["cross-site", "same-site", "Cross-Site", " cross-site"]),
    ),
    # A Sec-Fetch-Site the browser says is cross wins over an Origin that looks like ours.
    st.builds(
        lambda value: {"Sec-Fetch-Site": value, "Origin": BASE_URL},
        st.sampled_from(["cross-site", "same-site"]),
    ),
    st.builds(lambda origin: {"Origin": origin}, _OTHER_ORIGINS),
)
_FORM_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
        "application/json",
    ]
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(endpoint=st.sampled_from(FORMS), cross=_CROSS_SITE, content_type=_FORM_TYPES)
def test_forms_sent_by_another_site_are_refused_unread(
    endpoint: Endpoint, cross: dict[str, str], content_type: str
) -> None:
    exchange = _call(
        _app(),
        endpoint.method,
        endpoint.path,
        {**cross, "Content-Type": content_type, "Transfer-Encoding": "chunked"},
        _endless(1024),
    )
    document = _assert_problem(exchange, 403)
    assert document["errors"][0]["field"] == "(origin)"
    assert exchange.pulls == 0


_SAME_SITE = st.sampled_from(
    [
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},  # typed into the address bar, a bookmark
        {"Origin": BASE_URL},
        {"Origin": "HTTPS://Press.Example.KR"},
        {},  # no browser: a script, curl
    ]
)


class _Downstream:
    """Stands for the routes behind the guard: records what reached them."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@settings(max_examples=100)
@given(
    endpoint=st.sampled_from(FORMS),
    same=_SAME_SITE,
    body=st.binary(max_size=2048),
    chunk=st.integers(1, 512),
)
def test_forms_from_this_site_pass_with_their_body_intact(
    endpoint: Endpoint, same: dict[str, str], body: bytes, chunk: int
) -> None:
    downstream = _Downstream()
    guard = RequestGuard(downstream, policy_table(_settings()), BASE_URL)
    parts = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    headers = {**same, "Content-Type": "application/x-www-form-urlencoded"}
    headers["Content-Length"] = str(len(body))
    exchange = _call(guard, endpoint.method, endpoint.path, headers, iter(parts))
    assert exchange.status == 204
    assert downstream.bodies == [body if body else b""]


# --- Media types --------------------------------------------------------------------------

_MEDIA_TYPES = st.one_of(
    st.sampled_from(
        [
            "text/plain",
            "text/html",
            "application/xml",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=----x",
            "application/jsonp",
            "application/json-seq",
            "json",
            "",
        ]
    ),
    st.from_regex(r"\A[a-z]{1,12}/[a-z0-9.+-]{1,20}(; charset=utf-8)?\Z"),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(endpoint=st.sampled_from(TYPED), content_type=_MEDIA_TYPES, upper=st.booleans())
def test_other_media_types_are_refused_with_415_unread(
    endpoint: Endpoint, content_type: str, upper: bool
) -> None:
    policy = endpoint.policy
    media = content_type.split(";")[0].strip().lower()
    if policy.accepts(media):
        return  # the generator found an accepted one (application/foo+json): not this test
    exchange = _call(
        _app(),
        endpoint.method,
        endpoint.path,
        {
            "Sec-Fetch-Site": "same-origin",
            "Content-Type": content_type.upper() if upper else content_type,
            "Content-Length": "10",
        },
        iter([b"0123456789"]),
    )
    document = _assert_problem(exchange, 415)
    assert document["errors"][0]["field"] == "content-type"
    assert exchange.pulls == 0


@pytest.mark.parametrize("endpoint", TYPED, ids=lambda e: f"{e.method} {e.template}")
def test_a_body_without_a_media_type_is_refused(endpoint: Endpoint) -> None:
    exchange = _call(
        _app(),
        endpoint.method,
        endpoint.path,
        {"Sec-Fetch-Site": "same-origin", "Content-Length": "2"},
        iter([b"{}"]),
    )
    _assert_problem(exchange, 415)


# --- Size caps ----------------------------------------------------------------------------


def _accepted_type(policy: Policy) -> dict[str, str]:
    if not policy.media_types:
        return {}
    return {"Content-Type": policy.media_types[0].replace("*", "vnd.x")}


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(endpoint=st.sampled_from(ENDPOINTS), excess=st.integers(1, 200 * 1024 * 1024))
def test_a_declared_length_over_the_cap_is_refused_before_a_byte_is_read(
    endpoint: Endpoint, excess: int
) -> None:
    policy = endpoint.policy
    headers = {
        "Sec-Fetch-Site": "same-origin",
        **_accepted_type(policy),
        "Content-Length": str(policy.max_bytes + excess),
    }
    exchange = _call(_app(), endpoint.method, endpoint.path, headers, _endless(64 * 1024))
    _assert_problem(exchange, 413)
    assert exchange.pulls == 0
    assert exchange.headers["connection"] == "close"


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(endpoint=st.sampled_from(ENDPOINTS), chunk=st.integers(1, 64 * 1024))
def test_a_chunked_body_is_cut_off_one_chunk_past_the_cap(endpoint: Endpoint, chunk: int) -> None:
    policy = endpoint.policy
    if policy.max_bytes // chunk > 300:
        chunk = policy.max_bytes // 300  # keep each example quick; the bound is the same
    headers = {
        "Sec-Fetch-Site": "same-origin",
        **_accepted_type(policy),
        "Transfer-Encoding": "chunked",
    }
    exchange = _call(_app(), endpoint.method, endpoint.path, headers, _endless(chunk))
    document = _assert_problem(exchange, 413)
    assert str(policy.max_bytes) in document["detail"]
    assert policy.max_bytes < exchange.pulled <= policy.max_bytes + chunk
    assert exchange.headers["connection"] == "close"


def test_an_80_mb_patch_without_a_token_is_a_413_not_a_401() -> None:
    """The review's own example: nothing reads the body, and no token is looked at."""
    exchange = _call(
        _app(),
        "PATCH",
        "/api/partners/1",
        {"Content-Type": "application/json", "Content-Length": str(80 * 1024 * 1024)},
        _endless(64 * 1024),
    )
    _assert_problem(exchange, 413)
    assert exchange.pulls == 0
    within = _call(
        _app(),
        "PATCH",
        "/api/partners/1",
        {"Content-Type": "application/json", "Content-Length": "2"},
        iter([b"{}"]),
    )
    assert within.status == 401  # under the cap, authentication decides


@settings(max_examples=50)
@given(
    endpoint=st.sampled_from([e for e in STATE_CHANGING if e.policy.max_bytes]),
    size=st.integers(0, 4096),
)
def test_a_body_within_the_cap_reaches_the_route_whole(endpoint: Endpoint, size: int) -> None:
    downstream = _Downstream()
    guard = RequestGuard(downstream, policy_table(_settings()), BASE_URL)
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    body = body[: endpoint.policy.max_bytes]
    headers = {"Sec-Fetch-Site": "same-origin", **_accepted_type(endpoint.policy)}
    headers["Transfer-Encoding"] = "chunked"
    parts = iter([body[:100], body[100:]]) if body else iter([b""])
    exchange = _call(guard, endpoint.method, endpoint.path, headers, parts)
    assert exchange.status == 204
    assert downstream.bodies == [body]


# --- The OpenAPI document says so ---------------------------------------------------------


def test_every_documented_state_changing_operation_lists_the_guards_answers() -> None:
    document = _app().openapi()
    table = policy_table(_settings())
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method.upper() in SAFE_METHODS:
                continue
            policy = table.policy_for(method, path)
            answers = operation["responses"]
            assert "application/problem+json" in answers["413"]["content"], (method, path)
            if policy.media_types:
                assert "415" in answers, (method, path)
            if policy.same_site_only:
                assert "403" in answers, (method, path)
            checked += 1
    assert checked >= 15
    hook = document["paths"]["/hooks/cms"]["post"]["responses"]
    assert hook["413"]["description"] == "Body over 1 MiB"  # a route's own words stay
    assert (
        "262144 bytes"
        in document["paths"]["/api/partners"]["post"]["responses"]["413"]["description"]
    )

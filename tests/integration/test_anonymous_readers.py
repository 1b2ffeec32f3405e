"""What a visitor without a token learns, and the headers every answer carries, over real
HTTP: readiness names the kind of failure but no host, user or database; every response
of every route says nosniff; /docs cannot be framed; HSTS follows an https base URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from syndicator.config import Settings
from syndicator.web.app import create_app
from syndicator.web.site_headers import STRICT_TRANSPORT_SECURITY
from tests.live_server import serve

ADMIN = {"Authorization": "Bearer test-admin-token"}
# Things a database URL and its error reveal; none may reach an anonymous reader.
SECRET_USER, SECRET_DATABASE = "cityadmin", "pressdb"


@pytest.fixture
def unreachable(settings: Settings) -> Iterator[httpx.Client]:
    """The app with its database and Redis both gone (nothing listens on port 1)."""
    dead = settings.with_(
        database_url=f"postgresql+psycopg://{SECRET_USER}:pw@127.0.0.1:1/{SECRET_DATABASE}",
        redis_url="redis://127.0.0.1:1/0",
    )
    with serve(create_app(dead)) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


def _reveals(text: str) -> list[str]:
    return [word for word in (SECRET_USER, SECRET_DATABASE, "127.0.0.1", ":1") if word in text]


def test_readiness_tells_strangers_the_kind_of_failure_and_operators_the_error(unreachable):
    anonymous = unreachable.get("/readyz")
    assert anonymous.status_code == 503
    assert anonymous.json() == {
        "status": "not ready",
        "checks": {"database": "unreachable", "redis": "unreachable"},
    }
    pipeline = unreachable.get("/readyz/pipeline")
    assert pipeline.status_code == 503 and pipeline.json()["causes"] == ["cannot reach Redis"]
    for answer in (anonymous, pipeline):
        assert _reveals(answer.text) == [], answer.text

    for token in (ADMIN, {"Authorization": "Bearer wrong"}):
        detailed = unreachable.get("/readyz", headers=token)
        assert detailed.json()["checks"] == anonymous.json()["checks"]
        if token is ADMIN:  # the operator reads the error, host and all
            assert SECRET_USER in detailed.json()["details"]["database"]
            assert "127.0.0.1" in detailed.json()["details"]["redis"]
        else:
            assert "details" not in detailed.json()


def test_ready_says_ok_without_details(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


def _every_request(client: httpx.Client) -> Iterator[tuple[str, str]]:
    app = client.app_routes  # type: ignore[attr-defined]
    for route in iter_route_contexts(app):
        if route.path is None or route.methods is None:
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in sorted(route.methods):
            yield method, path
    yield "GET", "/static/vendor/swagger-ui/swagger-ui.css"
    yield "GET", "/no/such/page"
    yield "PUT", "/healthz"  # 405


@pytest.fixture
def walker(app_settings: Settings) -> Iterator[httpx.Client]:
    app = create_app(app_settings)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        http.app_routes = app.routes  # type: ignore[attr-defined]
        yield http


def test_every_response_of_every_route_says_nosniff_and_hsts(walker):
    """Anonymous and as the operator, with and without a body: 2xx, 3xx, 4xx and problem
    documents alike. The base URL is https, so HSTS rides along too."""
    seen: set[int] = set()
    for method, path in _every_request(walker):
        for headers in ({}, ADMIN):
            for content in (None, b"{}"):
                answer = walker.request(
                    method,
                    path,
                    headers={**headers, "Content-Type": "application/json"} if content else headers,
                    content=content,
                )
                seen.add(answer.status_code)
                where = (method, path, answer.status_code)
                assert answer.headers.get("x-content-type-options") == "nosniff", where
                assert answer.headers.get_list("x-content-type-options") == ["nosniff"], where
                assert answer.headers.get("strict-transport-security") == (
                    STRICT_TRANSPORT_SECURITY
                ), where
    assert {200, 401, 404, 405, 415, 422} <= seen, seen


def test_a_crash_is_a_problem_document_that_says_nosniff(app_settings):
    app = create_app(app_settings)

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        answer = http.get("/crash")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "boom" not in answer.text


def test_docs_cannot_be_framed(client):
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


def test_no_hsts_over_a_plain_http_base_url(app_settings):
    plain = app_settings.with_(base_url="http://127.0.0.1:8000")
    with serve(create_app(plain)) as url, httpx.Client(base_url=url, timeout=30) as http:
        for path in ("/healthz", "/docs", "/api/partners"):
            answer = http.get(path)
            assert "strict-transport-security" not in answer.headers
            assert answer.headers["x-content-type-options"] == "nosniff"

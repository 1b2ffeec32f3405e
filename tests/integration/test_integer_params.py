"""Every integer in a path or a query is bounded, so a number past the database's columns
is a 422 naming the parameter, never a driver error and a 500.

The routes are discovered from the app, so a route added later is covered without a line
here. Out-of-range numbers are sent over real HTTP to a real uvicorn, with the admin token
(which the console accepts too), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, get_args

import annotated_types
import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from syndicator.web.ids import MAX_ID
from tests.apps import offline_app

ADMIN = {"Authorization": "Bearer test-admin-token"}


@dataclass(frozen=True)
class IntegerParam:
    method: str
    path: str  # the route's template, e.g. /api/partners/{partner_id}
    name: str
    where: str  # path | query
    low: int | None
    high: int | None
    path_params: tuple[str, ...]  # every parameter of the template

    def url(self, value: object) -> tuple[str, dict[str, str]]:
        filled = {name: "1" for name in self.path_params}
        query: dict[str, str] = {}
        if self.where == "path":
            filled[self.name] = str(value)
        else:
            query[self.name] = str(value)
        return self.path.format(**filled), query

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.where} {self.name}"


def _params(dependant: Dependant) -> Iterator[tuple[str, Any]]:
    for field in dependant.path_params:
        yield "path", field
    for field in dependant.query_params:
        yield "query", field
    for sub in dependant.dependencies:
        yield from _params(sub)


def _is_integer(annotation: Any) -> bool:
    return annotation is int or int in get_args(annotation)


def integer_params(app: Any) -> list[IntegerParam]:
    found = []
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        every = [field.name for where, field in _params(context.dependant) if where == "path"]
        for where, field in _params(context.dependant):
            if not _is_integer(field.field_info.annotation):
                continue
            metadata = field.field_info.metadata
            low = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), None)
            high = next((m.le for m in metadata if isinstance(m, annotated_types.Le)), None)
            for method in sorted(context.methods - {"HEAD"}):
                found.append(
                    IntegerParam(method, context.path, field.name, where, low, high, tuple(every))
                )
    return found


PARAMS = integer_params(offline_app())


def test_discovery_finds_the_routes_that_once_answered_500() -> None:
    names = {str(p) for p in PARAMS}
    assert "POST /api/releases/{release_id}/resend-email path release_id" in names
    assert "GET /api/subscribers query after" in names
    assert "GET /ops/releases/{release_id} query after" in names  # the console too
    assert len(PARAMS) >= 15


@pytest.mark.parametrize("param", PARAMS, ids=str)
def test_every_integer_param_declares_a_range_the_database_holds(param: IntegerParam) -> None:
    assert param.low is not None and param.low >= 0, f"{param}: no lower bound"
    assert param.high is not None and param.high <= MAX_ID, f"{param}: upper bound {param.high}"


# Past either end, from just past it to far beyond every integer type; and digit strings
# longer than Python's int() converts.
beyond = st.one_of(
    st.integers(min_value=MAX_ID + 1),
    st.integers(max_value=-1),
    st.sampled_from([2**31, 2**63, 2**64, 915550078535787872256, 394175932430678294528]),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
@example(data=None)  # the first call: the 4,301-digit number below
def test_an_integer_past_its_bounds_is_a_422_naming_it(
    client: httpx.Client, data: st.DataObject | None
) -> None:
    for param in PARAMS:
        if data is None:
            value: object = "9" * 4301
        else:
            low, high = param.low or 0, param.high or MAX_ID
            value = data.draw(
                st.one_of(beyond, st.integers(max_value=low - 1), st.integers(min_value=high + 1))
            )
        path, query = param.url(value)
        answer = client.request(param.method, path, params=query, headers=ADMIN)
        assert answer.status_code == 422, f"{param} = {value}: {answer.status_code}"
        assert param.name in answer.text, f"{param}: the 422 does not name it"


# What str.isdigit calls digits: a superscript, Arabic-Indic, fullwidth; and past int().
NOT_QUITE_NUMBERS = st.one_of(
    st.text(st.sampled_from("0123456789²¹١۳０𝟘"), min_size=1, max_size=25),
    st.sampled_from(["9" * 4301, str(2**31), str(2**64), "²", "１"]),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(number=NOT_QUITE_NUMBERS)
@example(number="²")
def test_a_number_typed_into_a_residents_page_url_is_a_page_or_a_404(
    client: httpx.Client, number: str
) -> None:
    """The residents' pages parse their numbers themselves, to answer a Korean 404 page."""
    for path, query in ((f"/releases/{number}", {}), ("/", {"page": number})):
        answer = client.get(path, params=query)
        assert answer.status_code in (200, 404, 422), f"{path} {query}: {answer.status_code}"

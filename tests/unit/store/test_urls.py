"""Database URLs: libpq's host lists as SQLAlchemy reads them, psycopg's own option."""

from __future__ import annotations

import pytest
import sqlalchemy
from hypothesis import given
from hypothesis import strategies as st

from syndicator.store.urls import HostListError, connect_options, expand_host_list, parse

hosts = st.lists(
    st.tuples(
        st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True),
        st.none() | st.integers(1, 65535),
    ),
    min_size=2,
    max_size=4,
)


@given(hosts)
def test_a_host_list_reaches_psycopg_host_by_host(listed: list[tuple[str, int | None]]) -> None:
    authority = ",".join(f"{h}:{p}" if p else h for h, p in listed)
    url = f"postgresql+psycopg://app:pw@{authority}/press?target_session_attrs=read-write"
    engine = sqlalchemy.create_engine(parse(url))
    _, kwargs = engine.dialect.create_connect_args(engine.url)
    assert kwargs["host"] == ",".join(h for h, _ in listed)
    assert kwargs["port"].split(",") == [str(p) if p else "" for _, p in listed]
    assert (kwargs["user"], kwargs["password"], kwargs["dbname"]) == ("app", "pw", "press")
    assert kwargs["target_session_attrs"] == "read-write"


def test_a_url_of_one_host_is_left_as_it_is() -> None:
    url = "postgresql://app:p%40ss@db:5432/press?sslmode=require"
    assert expand_host_list(url) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://h1,,h2/db", "is not host or host:port"),
        ("postgresql://h1:port,h2/db", "is not host or host:port"),
        ("postgresql://h1:70000,h2/db", "is not host or host:port"),
        ("postgresql://h1,[::1]:5432/db", "IPv6"),
        ("postgresql://h1,h2/db?host=h3", "both"),
    ],
)
def test_a_host_list_sqlalchemy_cannot_carry_is_refused(url: str, reason: str) -> None:
    with pytest.raises(HostListError, match=reason):
        expand_host_list(url)


@pytest.mark.parametrize(("given", "threshold"), [("none", None), ("None", None), ("0", 0)])
def test_prepare_threshold_goes_to_psycopg(given: str, threshold: int | None) -> None:
    url, options = connect_options(parse(f"postgresql://h/db?prepare_threshold={given}"))
    assert options == {"prepare_threshold": threshold}
    assert "prepare_threshold" not in url.query  # libpq would refuse it


def test_a_bad_prepare_threshold_is_refused() -> None:
    with pytest.raises(HostListError, match="expected none or a whole number"):
        parse("postgresql://h/db?prepare_threshold=never")

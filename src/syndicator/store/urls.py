"""Database URLs as SQLAlchemy and psycopg 3 take them.

libpq writes a list of servers in the authority (``postgresql://h1:5432,h2:5433/db``),
which SQLAlchemy's URL parser cannot read (it takes ``5432,h2:5433`` for a port). It reads
the same list as repeated ``host`` parameters (``?host=h1:5432&host=h2:5433``), so a list
is rewritten into that form. ``prepare_threshold`` is psycopg's connection option, not a
libpq one: it is taken out of the URL and handed to psycopg as a number or None.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from sqlalchemy.engine import URL, make_url

__all__ = ["PREPARE_THRESHOLD", "HostListError", "connect_options", "expand_host_list", "parse"]

# psycopg's option: prepare a statement on the server after it ran this many times on a
# connection; ``none`` never does (what a transaction-mode pooler such as PgBouncer before
# 1.21 needs: the next transaction may run on another server connection).
PREPARE_THRESHOLD = "prepare_threshold"


class HostListError(ValueError):
    """A host list or a psycopg option SQLAlchemy cannot carry; the message holds no
    credentials."""


def expand_host_list(url: str) -> str:
    """``url`` with a libpq host list in its authority moved into ``host`` parameters;
    any other URL as it is. Raises HostListError for a list SQLAlchemy cannot carry."""
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if "," not in hosts:
        return url
    if "[" in hosts:
        raise HostListError("an IPv6 address in a host list: name the hosts instead")
    listed = hosts.split(",")
    for host in listed:
        name, colon, port = host.partition(":")
        if not name or (colon and not (port.isdigit() and 0 < int(port) < 65536)):
            raise HostListError(f"{host!r} in the list {hosts!r} is not host or host:port")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "host" for key, _ in query):
        raise HostListError("hosts both in the authority and in ?host=")
    joined = urlencode([("host", host) for host in listed] + query, safe=":")
    suffix = f"#{parts.fragment}" if parts.fragment else ""
    return f"{parts.scheme}://{userinfo}{at}{parts.path}?{joined}{suffix}"


def connect_options(url: URL) -> tuple[URL, dict[str, Any]]:
    """``url`` without the options psycopg takes as arguments, and those arguments."""
    value = url.query.get(PREPARE_THRESHOLD)
    if value is None:
        return url, {}
    if not isinstance(value, str):
        raise HostListError(f"{PREPARE_THRESHOLD} given more than once")
    return url.difference_update_query([PREPARE_THRESHOLD]), {PREPARE_THRESHOLD: _threshold(value)}


def _threshold(value: str) -> int | None:
    if value.strip().lower() == "none":
        return None
    if value.strip().isdigit():
        return int(value)
    raise HostListError(f"{PREPARE_THRESHOLD}={value!r}: expected none or a whole number")


def parse(url: str) -> URL:
    """The SQLAlchemy URL of ``url``, host lists and psycopg options checked."""
    parsed = make_url(expand_host_list(url))
    connect_options(parsed)
    return parsed

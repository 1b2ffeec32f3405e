"""Partner deliveries through one egress proxy (``SYNDICATOR_WEBHOOK_PROXY``): an HTTP
CONNECT proxy such as smokescreen, so partners see the city's fixed source addresses.

The SSRF guard still decides, here, before anything is sent: the partner's name is
resolved and every address checked (partners/ssrf.py), and the request goes to the
checked address itself (the proxy is asked to CONNECT to an IP, never to a name it would
look up again), with the original name kept for the Host header, TLS SNI and the
certificate check. What the proxy could be tricked into is refused too: a partner URL
naming the proxy itself, and proxy headers a partner set among its custom headers.
Every request carries the proxy: none falls back to a direct connection.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from syndicator.partners.ssrf import (
    AsyncResolve,
    GuardRefused,
    UrlRefused,
    resolve_checked,
    system_resolve_async,
)

__all__ = ["PROXY_HEADERS", "ProxyEgress", "Route", "check_proxy_url"]

# Headers meant for a proxy or a hop: a partner's custom headers never set them.
PROXY_HEADERS = frozenset(
    {"host", "proxy-authorization", "proxy-connection", "connection", "te", "upgrade"}
)


def check_proxy_url(url: str) -> str:
    """The proxy URL as given, or ``ValueError`` saying what is wrong with it."""
    expected = "must be http://host:port or https://host:port (an HTTP CONNECT proxy)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError(expected) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(expected)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("must name only the proxy: no path, query or fragment")
    return url


@dataclass(frozen=True)
class Route:
    """How one request goes out: to ``url`` (the checked address), through ``proxy``."""

    url: str
    headers: dict[str, str]
    options: dict[str, Any] = field(default_factory=dict)


def _netloc(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


class ProxyEgress:
    def __init__(
        self,
        proxy: str,
        allowed_networks: Sequence[str],
        resolve: AsyncResolve | None = None,
    ) -> None:
        self.proxy = check_proxy_url(proxy)
        parts = urlsplit(proxy)
        self._proxy_host = (parts.hostname or "").lower()
        self._proxy_port = parts.port or (443 if parts.scheme == "https" else 80)
        self._allowed = tuple(allowed_networks)
        self._resolve = resolve
        self._proxy_addresses: set[str] | None = None

    async def route(self, url: str, headers: Mapping[str, str]) -> Route:
        """Resolve and check ``url``'s host; raises :class:`GuardRefused` when refused and
        ``OSError`` when the name does not resolve (both classified like a direct try)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = await resolve_checked(host, port, self._allowed, self._resolve)
            if port == self._proxy_port and (
                host == self._proxy_host or set(addresses) & await self._proxy_ips()
            ):
                raise UrlRefused("the URL names the egress proxy itself")
        except UrlRefused as refused:
            raise GuardRefused(refused) from refused
        pinned = urlunsplit(parts._replace(netloc=_netloc(addresses[0], port)))
        default_port = port == (443 if parts.scheme == "https" else 80)
        sent = {k: v for k, v in headers.items() if k.lower() not in PROXY_HEADERS}
        sent["Host"] = host if default_port else f"{host}:{port}"
        options: dict[str, Any] = {"proxy": self.proxy}
        if parts.scheme == "https" and _is_name(host):
            options["server_hostname"] = host
        return Route(pinned, sent, options)

    def resolver(self) -> AbstractResolver:
        """The session's resolver: the proxy's name only; any other is a bug, refused."""
        return _ProxyOnly(self._proxy_host)

    async def _proxy_ips(self) -> set[str]:
        if self._proxy_addresses is None:
            if not _is_name(self._proxy_host):
                self._proxy_addresses = {str(ipaddress.ip_address(self._proxy_host))}
            else:
                try:
                    found = await system_resolve_async(self._proxy_host, self._proxy_port)
                except OSError:
                    found = []
                self._proxy_addresses = set(found)
        return self._proxy_addresses


def _is_name(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


class _ProxyOnly(AbstractResolver):
    def __init__(self, proxy_host: str) -> None:
        self._proxy_host = proxy_host
        self._system: AbstractResolver | None = None  # made in the loop that resolves

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host.lower().rstrip(".") != self._proxy_host.rstrip("."):
            # A direct connection: through the proxy, none may happen.
            raise GuardRefused(UrlRefused(f"{host} would be reached without the egress proxy"))
        self._system = self._system or DefaultResolver()
        return await self._system.resolve(host, port, family)

    async def close(self) -> None:
        if self._system is not None:
            await self._system.close()

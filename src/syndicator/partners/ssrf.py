"""The SSRF guard: partner URLs may only reach the public internet.

A URL is checked twice: when a partner is registered (:func:`check_url`, a 422 that says
why) and when a delivery connects (:class:`GuardedResolver`, plugged into the HTTP client).
Every address DNS returns is checked, and the client connects only to the addresses that
passed, so a name that resolves elsewhere a second later (DNS rebinding) gets nowhere:
there is no second lookup. ``SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS`` (CIDRs) is the only way
around the refused ranges.

DNS cannot be made real in tests, so name resolution is injectable: a :class:`Resolve`
function (``host, port -> addresses``), :class:`StaticResolve` maps names to addresses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

__all__ = [
    "REFUSED_NETWORKS",
    "AsyncResolve",
    "GuardRefused",
    "GuardedResolver",
    "Resolve",
    "StaticResolve",
    "UrlRefused",
    "check_address",
    "check_url",
    "check_url_offline",
    "parse_networks",
    "resolve_checked",
    "system_resolve",
    "system_resolve_async",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Why each range is refused: the reason a partner reads in the 422 and the attempt log.
REFUSED_NETWORKS: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified ('this network')"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT (shared address space)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata lives at 169.254.169.254)"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved for IETF protocol assignments"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("64:ff9b::/96", "NAT64"),
    ("64:ff9b:1::/48", "NAT64 (local use)"),
    ("100::/64", "discard-only"),
    ("2001::/32", "Teredo"),
    ("2001:db8::/32", "documentation"),
    ("2001::/23", "reserved for IETF protocol assignments"),
    ("2002::/16", "6to4"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "segment routing (SRv6)"),
    ("fc00::/7", "unique local (private)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)

_REFUSED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(cidr), why) for cidr, why in REFUSED_NETWORKS
)

# host, port -> the addresses it resolves to (raises OSError when it does not resolve).
Resolve = Callable[[str, int], Sequence[str]]
AsyncResolve = Callable[[str, int], Awaitable[Sequence[str]]]


class UrlRefused(ValueError):
    """A partner URL the guard refuses; ``reason`` says why, in words for a 422."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GuardRefused(OSError):
    """:class:`UrlRefused` raised inside the HTTP client's resolver.

    aiohttp turns a resolver's ``OSError`` into a connection error and keeps it as the
    cause, so the channel can tell a refused address (``ssrf-refused``) from a DNS failure.
    """

    def __init__(self, refused: UrlRefused) -> None:
        super().__init__(refused.reason)
        self.reason = refused.reason


@lru_cache(maxsize=32)
def parse_networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """The allow-list as networks; a bad CIDR is a configuration error, raised loudly."""
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)


# Every refused address names the one setting that lets it through: an operator with a
# receiver on this machine or the LAN learns the fix from the 422 itself.
_WAY_AROUND = (
    "not allowed for webhooks unless its network is listed in SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS"
)


def _allowed(address: IPAddress, allowed: Iterable[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in allowed)


def check_address(address: str, allowed_networks: Sequence[str] = (), host: str = "") -> None:
    """Raise :class:`UrlRefused` unless ``address`` is public or explicitly allowed."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        raise UrlRefused(f"{address!r} is not an IP address") from None
    allowed = parse_networks(tuple(allowed_networks))
    if _allowed(ip, allowed):
        return
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # ::ffff:a.b.c.d reaches a.b.c.d: judge it as the IPv4 address it is.
        check_address(str(ip.ipv4_mapped), allowed_networks, host)
        return
    named = f"{host} resolves to {ip}" if host and host != str(ip) else f"address {ip}"
    for network, why in _REFUSED:
        if ip.version == network.version and ip in network:
            raise UrlRefused(f"{named}, which is {why} ({network}); {_WAY_AROUND}")
    if not ip.is_global:  # whatever else the standard library knows is not public
        raise UrlRefused(f"{named}, which is not a public address; {_WAY_AROUND}")


def _target(url: str) -> tuple[str, int]:
    """The host and port a URL connects to, or :class:`UrlRefused` for a bad URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("the URL must start with http:// or https://")
    if not parts.hostname:
        raise UrlRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("the URL must not carry credentials; send them as a custom header")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def check_url_offline(url: str, allowed_networks: Sequence[str] = ()) -> str | None:
    """What can be checked without DNS: the scheme, the host, and an IP literal's address
    (aiohttp never asks a resolver about a literal). Returns the host when it is a name,
    left to the resolver at connect time; None for a literal that passed."""
    host, _ = _target(url)
    if (literal := _literal(host)) is not None:
        check_address(literal, allowed_networks, host)
        return None
    return host


def check_url(
    url: str, allowed_networks: Sequence[str] = (), resolve: Resolve | None = None
) -> None:
    """Refuse ``url`` unless it is http(s) and every address its host resolves to is public
    (or in ``allowed_networks``). Blocks on DNS; call it from a thread in async code."""
    host, port = _target(url)
    if (literal := _literal(host)) is not None:
        check_address(literal, allowed_networks, host)
        return
    try:
        addresses = (resolve or system_resolve)(host, port)
    except OSError as exc:
        raise UrlRefused(f"{host} does not resolve: {exc}") from None
    _check_all(host, addresses, allowed_networks)


def _check_all(host: str, addresses: Sequence[str], allowed_networks: Sequence[str]) -> None:
    if not addresses:
        raise UrlRefused(f"{host} resolves to no address")
    for address in addresses:
        check_address(address, allowed_networks, host)


async def resolve_checked(
    host: str, port: int, allowed_networks: Sequence[str], resolve: AsyncResolve | None = None
) -> list[str]:
    """Every address ``host`` resolves to, once each, all checked; :class:`UrlRefused` when
    any one is refused (a name that mixes public and private addresses is refused whole).
    A name that does not resolve raises ``OSError`` (a DNS failure, not a refusal)."""
    if (literal := _literal(host)) is not None:
        check_address(literal, allowed_networks, host)
        return [literal]
    addresses = list(dict.fromkeys(await (resolve or system_resolve_async)(host, port)))
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, f"{host} resolves to no address")
    _check_all(host, addresses, allowed_networks)
    return addresses


def _addresses(infos: Iterable[tuple[object, ...]]) -> list[str]:
    found = (info[4][0] for info in infos if isinstance(info[4], tuple))
    return list(dict.fromkeys(str(address) for address in found))


def system_resolve(host: str, port: int) -> list[str]:
    return _addresses(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))


async def system_resolve_async(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    return _addresses(await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM))


class StaticResolve:
    """Names to addresses from a mapping, for tests; change ``names`` to rebind a name.

    Usable as both :data:`Resolve` and :data:`AsyncResolve` (``aresolve``)."""

    def __init__(self, names: Mapping[str, Sequence[str]]) -> None:
        self.names: dict[str, list[str]] = {k.lower(): list(v) for k, v in names.items()}

    def __call__(self, host: str, port: int) -> list[str]:
        try:
            return list(self.names[host.lower().rstrip(".")])
        except KeyError:
            raise socket.gaierror(socket.EAI_NONAME, f"unknown name {host}") from None

    async def aresolve(self, host: str, port: int) -> list[str]:
        return self(host, port)


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver for webhook deliveries: resolves, checks every address and
    returns only checked ones, so the connection goes to what was checked. The request
    keeps the original name for the Host header, TLS SNI and certificate checks.

    aiohttp does not ask a resolver about IP literals: the channel checks those itself
    (:func:`check_url` with no DNS) before it sends.
    """

    def __init__(self, allowed_networks: Sequence[str], resolve: AsyncResolve | None = None):
        self._allowed = tuple(allowed_networks)
        self._resolve = resolve

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            addresses = await resolve_checked(host, port, self._allowed, self._resolve)
        except UrlRefused as refused:
            raise GuardRefused(refused) from refused
        return [_result(host, address, port) for address in addresses]

    async def close(self) -> None:
        return None


def _result(host: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return {
        "hostname": host,
        "host": address,
        "port": port,
        "family": family,
        "proto": 0,
        "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
    }

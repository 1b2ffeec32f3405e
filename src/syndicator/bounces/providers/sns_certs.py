"""SNS signing certificates, fetched over https from the host rule's hosts and kept in
memory, and subscription confirmation: the only calls the SES hook makes out."""

from __future__ import annotations

import ssl
from collections import OrderedDict
from pathlib import Path

import httpx

from syndicator.bounces.providers.common import Unverified
from syndicator.bounces.providers.sns import check_url

__all__ = ["CERT_MAX_BYTES", "SnsClient"]

# A signing certificate is about 2 KB; more is not one.
CERT_MAX_BYTES = 64 * 1024
_KEPT = 16
_TIMEOUT = httpx.Timeout(5.0)


class SnsClient:
    """``hosts`` is the regular expression a certificate or confirmation URL's host must
    match; ``ca_file`` a CA bundle to trust instead of the system's (tests)."""

    def __init__(self, hosts: str, ca_file: Path | None = None) -> None:
        self.hosts = hosts
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        )
        self._http = httpx.AsyncClient(timeout=_TIMEOUT, verify=verify, follow_redirects=False)
        self._certs: OrderedDict[str, bytes] = OrderedDict()

    async def certificate(self, url: str) -> bytes:
        check_url(url, self.hosts, "SigningCertURL")
        if url in self._certs:
            self._certs.move_to_end(url)
            return self._certs[url]
        pem = await self._get(url, "SigningCertURL")
        self._certs[url] = pem
        while len(self._certs) > _KEPT:
            self._certs.popitem(last=False)
        return pem

    async def confirm(self, subscribe_url: str) -> None:
        """Visit ``SubscribeURL`` of a verified confirmation: SNS then starts sending."""
        await self._get(check_url(subscribe_url, self.hosts, "SubscribeURL"), "SubscribeURL")

    async def _get(self, url: str, name: str) -> bytes:
        try:
            async with self._http.stream("GET", url) as response:
                if response.status_code != 200:
                    raise Unverified(name, f"{url} answered {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > CERT_MAX_BYTES:
                        raise Unverified(name, f"{url} sent more than {CERT_MAX_BYTES} bytes")
                return bytes(body)
        except httpx.HTTPError as exc:
            raise Unreachable(name, f"{url}: {type(exc).__name__}") from exc

    async def aclose(self) -> None:
        await self._http.aclose()


class Unreachable(Unverified):
    """The certificate could not be fetched: not the caller's fault, so SNS should retry."""

    status = 503

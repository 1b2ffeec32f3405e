"""IRI -> URI and XML-safe text: the two hygiene steps every feed string goes through."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = ["iri_to_uri", "xml_safe"]

# Reserved characters and '%' stay as they are, so an already encoded URL is unchanged.
_SAFE = "!#$%&'()*+,/:;=?@[]~"
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Everything XML 1.0 forbids (lxml raises on it) plus C1 controls, which HWP pastes carry.
_NOT_XML = re.compile("[^\t\n\r\u0020-\u007e\u00a0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """Drop characters lxml would reject; intake strips them too, this is the last guard."""
    return _NOT_XML.sub("", text)


def _host(netloc: str) -> str:
    if netloc.isascii():
        return netloc
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.partition(":")
    return f"{userinfo}{at}{host.encode('idna').decode('ascii')}{colon}{port}"


def iri_to_uri(iri: str) -> str:
    """Percent-encode non-ASCII (Hangul file names) as UTF-8; the W3C validator rejects raw IRIs.

    Idempotent: encoding an already encoded URI returns it unchanged.
    """
    iri = xml_safe(iri).strip()
    if iri.isascii() and " " not in iri and not _STRAY_PERCENT.search(iri):
        return iri
    parts = urlsplit(_STRAY_PERCENT.sub("%25", iri))
    return urlunsplit(
        (
            parts.scheme,
            _host(parts.netloc),
            quote(parts.path, safe=_SAFE),
            quote(parts.query, safe=_SAFE),
            quote(parts.fragment, safe=_SAFE),
        )
    )

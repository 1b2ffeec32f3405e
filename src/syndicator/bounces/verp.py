"""VERP: an envelope sender unique to each message, so a bounce names its delivery and
its subscriber whatever its body says.

``SYNDICATOR_BOUNCE_ADDRESS`` ``bounces@news.example.kr`` becomes
``bounces+<tag>@news.example.kr``, the tag being ``<delivery>-<subscriber>-<mac>``: both
ids in hex (0 for a mail that is no delivery, such as a confirmation) and an HMAC-SHA256
of them, truncated to 80 bits, in hex. Everything is lowercase, because some servers fold
the case of the address they bounce to. One tag is made per message sent: the keyed HMAC
states are made once and copied, and hex is cheaper than base32. The MAC is made with
the first of ``settings.token_keys`` and checked against every one of them, so a rotated-out
key keeps matching the bounces of mail it signed for as long as it stays listed.

A forged or damaged tag reads as None: a report nobody can tie to a message we sent
suppresses nobody.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache

from syndicator.config import Settings, TokenKeysMissing

__all__ = ["VerpIds", "envelope_sender", "make_tag", "read_tag", "tag_of_address"]

_CONTEXT = b"syndicator.verp\x00"
_MAC_BYTES = 10  # 80 bits: 20 hex digits
_TAG = re.compile(r"([0-9a-f]{1,15})-([0-9a-f]{1,15})-([0-9a-f]{20})")


@dataclass(frozen=True)
class VerpIds:
    """What a genuine tag names; 0 where it names nothing."""

    delivery_id: int
    subscriber_id: int


@lru_cache(maxsize=8)
def _keyed(keys: tuple[str, ...]) -> tuple[hmac.HMAC, ...]:
    """Each key's HMAC with the context already hashed in, newest first."""
    return tuple(hmac.new(key.encode(), _CONTEXT, hashlib.sha256) for key in keys if key)


def _macs(settings: Settings) -> tuple[hmac.HMAC, ...]:
    keyed = _keyed(settings.token_keys)
    if not keyed:
        raise TokenKeysMissing()
    return keyed


def _mac(keyed: hmac.HMAC, ids: str) -> str:
    mac = keyed.copy()
    mac.update(ids.encode())
    return mac.digest()[:_MAC_BYTES].hex()


def make_tag(settings: Settings, delivery_id: int, subscriber_id: int) -> str:
    ids = f"{delivery_id:x}-{subscriber_id:x}"
    return f"{ids}-{_mac(_macs(settings)[0], ids)}"


def envelope_sender(settings: Settings, delivery_id: int, subscriber_id: int) -> str | None:
    """The envelope sender (``MAIL FROM``) for one message; None without a bounce address
    (the sender's own address is used, as before)."""
    address = settings.bounce_address
    if not address:
        return None
    local, _, domain = address.rpartition("@")
    return f"{local}+{make_tag(settings, delivery_id, subscriber_id)}@{domain}"


def read_tag(settings: Settings, tag: str) -> VerpIds | None:
    """The ids a genuine tag names; None for anything forged, damaged or not a tag."""
    found = _TAG.fullmatch(tag.strip().lower())
    if found is None:
        return None
    delivery, subscriber, mac = found.groups()
    ids = f"{int(delivery, 16):x}-{int(subscriber, 16):x}"
    if ids != f"{delivery}-{subscriber}":  # leading zeros: not as we write it
        return None
    for keyed in _macs(settings):
        if hmac.compare_digest(_mac(keyed, ids), mac):
            return VerpIds(int(delivery, 16), int(subscriber, 16))
    return None


def tag_of_address(settings: Settings, address: str) -> str | None:
    """The tag in ``bounces+<tag>@domain`` when that is our bounce address (local part and
    domain compared without case); None for any other address."""
    ours = settings.bounce_address
    if not ours or "@" not in address:
        return None
    base_local, _, base_domain = ours.lower().rpartition("@")
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    prefix = base_local + "+"
    if domain != base_domain or not local.startswith(prefix):
        return None
    return local[len(prefix) :] or None

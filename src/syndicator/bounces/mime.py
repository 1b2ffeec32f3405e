"""Reading a returned mail's parts the way a report needs them: decoded header text, the
human-readable text, the returned message's headers, and field blocks such as a DSN's.

Everything here reads a :class:`email.message.Message` parsed with the stdlib's default
(compat32) policy, which is what flufl.bounce expects too, and never raises on a damaged
message: a part that cannot be read reads as empty.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses

__all__ = [
    "addresses",
    "clean",
    "field_blocks",
    "header_text",
    "human_text",
    "message_id",
    "message_id_in_text",
    "returned_headers",
    "top_parts",
]

# Parts that hold another message (or its headers): a report's own parts stop there.
RETURNED_TYPES = frozenset(
    {"message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers"}
)
# Parts whose body the parser turns into field blocks or a message of their own.
_CONTAINER_TYPES = RETURNED_TYPES | {
    "message/delivery-status",
    "message/global-delivery-status",
    "message/feedback-report",
}
# Korean mail still arrives as EUC-KR (CP949 is its superset) when it does not say so.
_FALLBACK_CHARSETS = ("utf-8", "cp949")
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
_BODY_MESSAGE_ID = re.compile(r"^message-id:[ \t]*(<[^<>\s]{1,250}>)", re.I | re.M)


def clean(text: str, limit: int | None = None) -> str:
    """Text fit to store: one line, no NULs or lone surrogates, at most ``limit`` chars."""
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _unescape(text: str) -> str:
    """Undo the parser's surrogate escapes of raw 8-bit header bytes (UTF-8 or EUC-KR)."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    raw = text.encode("utf-8", "surrogateescape")
    for charset in _FALLBACK_CHARSETS:
        try:
            return raw.decode(charset)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")


def _raw_values(msg: Message, name: str) -> list[str]:
    """A header's values as parsed, raw 8-bit bytes still escaped (``get`` would wrap
    those in a Header that turns them into question marks)."""
    wanted = name.lower()
    return [str(v) for k, v in msg.raw_items() if k.lower() == wanted]


def header_text(msg: Message, name: str) -> str:
    """One header's decoded value (RFC 2047 words and raw 8-bit bytes alike), unfolded."""
    values = _raw_values(msg, name)
    if not values:
        return ""
    text = _unescape(values[0])
    with contextlib.suppress(HeaderParseError, LookupError, UnicodeError, ValueError, TypeError):
        text = str(make_header(decode_header(text)))
    return clean(text)


def addresses(msg: Message, name: str) -> list[str]:
    """The addresses of every instance of a header, in order, bare."""
    values = [_unescape(v) for v in _raw_values(msg, name)]
    try:
        pairs = getaddresses(values)
    except (ValueError, TypeError, IndexError):
        return []
    return [addr.strip() for _, addr in pairs if "@" in addr]


def top_parts(msg: Message) -> Iterator[Message]:
    """The report's own parts, depth first; a returned message is yielded, not entered."""
    yield msg
    if msg.get_content_type() in _CONTAINER_TYPES or not msg.is_multipart():
        return
    payload = msg.get_payload()
    if isinstance(payload, list):
        for part in payload:
            if isinstance(part, Message):
                yield from top_parts(part)


def decoded_body(part: Message) -> str:
    """A leaf part's body as text, in its declared charset or the likely ones."""
    try:
        raw = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError):
        raw = None
    if not isinstance(raw, bytes):
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    declared = part.get_content_charset()
    for charset in ((declared,) if declared else ()) + _FALLBACK_CHARSETS:
        try:
            return raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("utf-8", "replace")


def human_text(msg: Message) -> str:
    """The report's text meant for people (its text/plain parts, or a bare body), without
    the returned message."""
    texts = []
    for part in top_parts(msg):
        if part.is_multipart() or part.get_content_type() in _CONTAINER_TYPES:
            continue
        if part.get_content_maintype() == "text" and part.get_content_subtype() in (
            "plain",
            "html",
        ):
            text = decoded_body(part)
            if part.get_content_subtype() == "html":
                text = re.sub(r"<[^>]*>", " ", text)
            texts.append(text)
    return "\n".join(texts)


def _as_bytes(part: Message) -> bytes:
    try:
        return part.as_bytes()
    except (ValueError, TypeError, LookupError, UnicodeError):
        return b""


def _container_text(part: Message) -> str:
    """The body of a message/* part the parser split into blocks, as text again; decoded
    when a sender base64- or QP-encoded it (which RFC 2045 forbids, and some do)."""
    payload = part.get_payload()
    if isinstance(payload, str):
        text = payload
    elif isinstance(payload, list):
        # as_bytes writes raw 8-bit header bytes back as they came; as_string would not.
        text = _unescape(
            b"\n".join(_as_bytes(p) for p in payload if isinstance(p, Message)).decode(
                "ascii", "surrogateescape"
            )
        )
    else:
        return ""
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte in ("base64", "quoted-printable"):
        carrier = Message()
        carrier["Content-Transfer-Encoding"] = cte
        carrier.set_payload(text.strip())
        raw = carrier.get_payload(decode=True)
        if isinstance(raw, bytes):
            text = raw.decode("utf-8", "replace")
    return _unescape(text)


def field_blocks(part: Message) -> list[Message]:
    """A delivery-status or feedback-report part's blocks of fields, each as headers."""
    text = _container_text(part).replace("\r\n", "\n").replace("\r", "\n")
    blocks = re.split(r"\n[ \t]*\n", text.strip("\n"))
    parser = HeaderParser()
    return [parser.parsestr(block.strip("\n") + "\n") for block in blocks if block.strip()]


def returned_headers(msg: Message) -> Message | None:
    """The headers of the message a report returns (message/rfc822 or
    text/rfc822-headers), when it returns one."""
    for part in top_parts(msg):
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
            if isinstance(payload, str):
                return HeaderParser().parsestr(payload)
        elif ctype in ("text/rfc822-headers", "message/global-headers"):
            text = decoded_body(part) if not part.is_multipart() else _container_text(part)
            return HeaderParser().parsestr(text.lstrip("\r\n"))
    return None


def message_id(headers: Message | None) -> str | None:
    """A Message-ID header's ``<id>``, or None."""
    if headers is None:
        return None
    found = _MESSAGE_ID.search(_unescape(str(headers.get("message-id", ""))))
    return clean(found.group(0)) if found else None


def message_id_in_text(text: str) -> str | None:
    """The first Message-ID header line in text that quotes a message (a non-MIME bounce
    pastes the returned message below its explanation)."""
    found = _BODY_MESSAGE_ID.search(text)
    return clean(found.group(1)) if found else None

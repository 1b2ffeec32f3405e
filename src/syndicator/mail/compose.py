"""Building messages: render templates once, then stamp out personalised copies.

A message is rendered (jinja2, CSS inlined) and encoded exactly once into a
:class:`MessageTemplate`: finished bytes with a few *slots* (the recipient, the Message-ID,
the Date, the unsubscribe and preferences URLs). Filling a copy only encodes those short
values and joins bytes, so it costs microseconds instead of the ~6 ms the ``email``
package needs to build a multipart message from scratch.

Bodies are quoted-printable with CRLF line endings. Every static stretch of a body ends in
a soft line break (``=`` CRLF) before a slot, and a slot's encoded value is cut into
lines of at most 76 characters that end in soft breaks too, so any value keeps the part
valid QP with no line over 76 bytes (far below SMTP's 998).

No body line starts with a dot: a leading ``.`` is encoded ``=2E``. SMTP would otherwise
have every copy dot-stuffed on its way out (a regular expression over the whole message,
per recipient); encoded once here, the transport finds nothing to stuff.
"""

from __future__ import annotations

import binascii
import html
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import Environment

from syndicator.config import Settings
from syndicator.i18n import DEFAULT_LANGUAGE, template_environment
from syndicator.mail.dkim import sign_message

__all__ = [
    "LIST_SLOTS",
    "MessageTemplate",
    "References",
    "RenderedEmail",
    "compile_message",
    "message_id",
    "render_email",
    "sender_address",
    "transactional_message",
]

# Per-recipient values every message has, filled in the header.
HEADER_SLOTS = ("to", "message_id", "date")
# Per-recipient links a newsletter carries (in its headers and in both bodies).
LIST_SLOTS = ("unsubscribe_url", "preferences_url")
# Quoted-printable lines are at most 76 characters (RFC 2045), the soft break included.
_QP_LINE = 76
# A marker jinja, the HTML parser and css-inline all leave alone (ASCII letters only),
# unique to this process so no release text can forge one.
_NONCE = "Zslot" + uuid.uuid4().hex[:12]
_MARKER = re.compile(_NONCE + r"([a-z_]+)" + _NONCE)
_INLINER = css_inline.CSSInliner(keep_style_tags=True)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    language: str = DEFAULT_LANGUAGE  # its Content-Language


def _slot_marker(name: str) -> str:
    return f"{_NONCE}{name}{_NONCE}"


@lru_cache(maxsize=8)
def _environment(templates_dir: Path, language: str) -> Environment:
    env = template_environment(
        templates_dir / "email", language, ("html",), keep_trailing_newline=True
    )
    env.globals["language"] = language
    return env


def render_email(
    settings: Settings,
    template: str,
    context: Mapping[str, Any],
    slots: Sequence[str] = (),
    *,
    language: str = DEFAULT_LANGUAGE,
) -> RenderedEmail:
    """Render ``templates/email/<template>/{subject.txt,body.txt,body.html}`` in
    ``language``. Each name in ``slots`` is given to the templates as a marker that
    :func:`compile_message` turns into a per-recipient slot."""
    env = _environment(settings.templates_dir, language)
    values = {
        "site_title": settings.site_title,
        "site_domain": settings.site_domain,
        "base_url": settings.base_url,
        **context,
        **{name: _slot_marker(name) for name in slots},
    }
    subject = env.get_template(f"{template}/subject.txt").render(values)
    text = env.get_template(f"{template}/body.txt").render({**values, "links": References()})
    body = env.get_template(f"{template}/body.html").render(values)
    return RenderedEmail(" ".join(subject.split()), text, _INLINER.inline(body), language)


class References:
    """A text part's links, numbered in the order first mentioned: ``{{ links(url) }}``
    writes ``[n]`` where the link is, and ``_references.txt`` lists them at the end, so
    the text reads without addresses in its sentences (a screen reader reads the part
    aloud) and every link is still there."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str) -> str:
        if url not in self.urls:
            self.urls.append(url)
        return f"[{self.urls.index(url) + 1}]"


# A compiled part is static bytes or a slot: (name, how its value is encoded).
_Part = bytes | tuple[str, str]


@dataclass(frozen=True)
class MessageTemplate:
    parts: tuple[_Part, ...]

    @property
    def slots(self) -> frozenset[str]:
        return frozenset(p[0] for p in self.parts if isinstance(p, tuple))

    def fill(self, values: Mapping[str, str]) -> bytes:
        """The finished message (CRLF) with every slot filled in; a value used in several
        places (a link in the header and both bodies) is encoded once per encoding."""
        encoded: dict[tuple[str, str], bytes] = {}
        pieces = []
        for part in self.parts:
            if isinstance(part, bytes):
                pieces.append(part)
                continue
            piece = encoded.get(part)
            if piece is None:
                piece = encoded[part] = _ENCODERS[part[1]](values[part[0]])
            pieces.append(piece)
        return b"".join(pieces)


def _header_value(value: str) -> bytes:
    # Never let a value end the header early (header injection).
    return value.replace("\r", "").replace("\n", "").encode("utf-8")


def _qp_lines(encoded: bytes) -> bytes:
    """Cut QP text into lines that each end in a soft break, never inside an ``=XX``."""
    out: list[bytes] = []
    room = _QP_LINE - 1
    while encoded:
        if encoded.startswith(b"."):
            encoded = b"=2E" + encoded[1:]
        cut = min(room, len(encoded))
        if cut < len(encoded):
            escape = encoded.rfind(b"=", max(0, cut - 2), cut)
            if escape != -1:
                cut = escape
        out.append(encoded[:cut] + b"=\r\n")
        encoded = encoded[cut:]
    return b"".join(out)


def _dotless(encoded: bytes) -> bytes:
    """QP text (LF line ends) with each line's leading dot encoded as ``=2E``; a line that
    grows past 76 characters by it is cut with a soft break, never inside an ``=XX``."""
    if not encoded.startswith(b".") and b"\n." not in encoded:
        return encoded
    out: list[bytes] = []
    for line in encoded.split(b"\n"):
        while line.startswith(b"."):
            line = b"=2E" + line[1:]
            if len(line) > _QP_LINE:
                cut = _QP_LINE - 1
                escape = line.rfind(b"=", cut - 2, cut)
                if escape != -1:
                    cut = escape
                out.append(line[:cut] + b"=")
                line = line[cut:]
        out.append(line)
    return b"\n".join(out)


def _qp_value(value: str) -> bytes:
    encoded = binascii.b2a_qp(value.encode("utf-8"), quotetabs=True, istext=False)
    return _qp_lines(encoded.replace(b"=\n", b""))


def _qp_html_value(value: str) -> bytes:
    return _qp_value(html.escape(value, quote=True))


_ENCODERS = {"header": _header_value, "qp": _qp_value, "qp_html": _qp_html_value}


def _qp_static(text: str, closed: bool) -> bytes:
    """A stretch of body text as QP with CRLF. Unless ``closed`` (the part ends here), it
    ends at a line end so that a slot's lines can follow."""
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True)
    if encoded and not encoded.endswith(b"\n"):
        head, newline, last = encoded.rpartition(b"\n")
        encoded = head + newline + _qp_lines(last).replace(b"\r\n", b"\n")
        if closed:
            encoded = encoded[: -len(b"=\n")] + b"\n"
    elif closed and not encoded:
        encoded = b"\n"
    return _dotless(encoded).replace(b"\n", b"\r\n")


def _body_parts(text: str, slot_encoding: str) -> list[_Part]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    pieces = _MARKER.split(text)  # static, name, static, name, ..., static
    parts: list[_Part] = []
    for index, piece in enumerate(pieces):
        if index % 2:
            parts.append((piece, slot_encoding))
        else:
            parts.append(_qp_static(piece, closed=index == len(pieces) - 1))
    return parts


def sender_address(settings: Settings) -> str:
    match = re.search(r"<([^<>]+)>\s*$", settings.sender)
    return match.group(1) if match else settings.sender.strip()


def message_id(settings: Settings, local: str | None = None) -> str:
    return f"<{local or uuid.uuid4().hex}@{settings.site_domain}>"


def _folded(name: str, value: str) -> bytes:
    """One header from the operator's settings, folded and encoded by ``email``."""
    msg = EmailMessage(policy=SMTP)
    msg[name] = value
    raw = bytes(msg)
    return raw[: raw.index(b"\r\n\r\n") + 2]


def _encoded_words(name: str, value: str) -> bytes:
    """A header carrying release text, always as RFC 2047 encoded words, folded with CRLF.

    Never through ``email``'s header folder: it decodes any encoded word it finds in the
    value, so a title holding ``=?utf-8?q?=0D=0ABcc:_x@y?=`` came out as a real ``Bcc``
    header, and some text made it raise. Encoded whole, such text is only text."""
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n", maxlinelen=76)
    return f"{name}: {encoded}\r\n".encode("ascii")


def _static_headers(settings: Settings, subject: str, list_headers: bool) -> bytes:
    """From, Subject and the list headers: everything but the per-recipient slots."""
    head = _folded("From", settings.sender) + _encoded_words("Subject", subject)
    if list_headers:
        name = Header(settings.site_title, "utf-8").encode()
        head += _folded("List-Id", f"{name} <newsletter.{settings.site_domain}>")
    return head


def compile_message(
    settings: Settings, rendered: RenderedEmail, *, list_headers: bool
) -> MessageTemplate:
    """Encode a rendered email once. Slots: ``to``, ``message_id``, ``date``, and with
    ``list_headers`` the ``unsubscribe_url`` and ``preferences_url`` the bodies mention."""
    boundary = f"=_syndicator_{uuid.uuid4().hex}".encode()
    parts: list[_Part] = [
        _static_headers(settings, rendered.subject, list_headers),
        b"To: ",
        ("to", "header"),
        b"\r\nDate: ",
        ("date", "header"),
        b"\r\nMessage-ID: ",
        ("message_id", "header"),
        b"\r\n",
    ]
    if list_headers:
        mailto = f"mailto:{sender_address(settings)}?subject=unsubscribe"
        parts += [
            b"List-Unsubscribe: <",
            ("unsubscribe_url", "header"),
            f">,\r\n <{mailto}>\r\n".encode(),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
        ]
    parts.append(
        f"Content-Language: {rendered.language}\r\n".encode("ascii") + b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n\r\n'
    )
    for subtype, body, encoding in (
        ("plain", rendered.text, "qp"),
        ("html", rendered.html, "qp_html"),
    ):
        parts.append(
            b"--" + boundary + b"\r\n"
            b"Content-Type: text/" + subtype.encode() + b'; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        )
        parts += _body_parts(body, encoding)
    parts.append(b"--" + boundary + b"--\r\n")
    return MessageTemplate(tuple(_merge(parts)))


def _merge(parts: list[_Part]) -> list[_Part]:
    """Adjacent static bytes joined: fewer pieces to join per copy."""
    merged: list[_Part] = []
    for part in parts:
        if isinstance(part, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] = merged[-1] + part
        else:
            merged.append(part)
    return merged


_date_header: tuple[int, str] = (0, "")


def now_header() -> str:
    """The Date header for now, formatted once per second (thousands of copies share it)."""
    global _date_header
    second = int(time.time())
    if _date_header[0] != second:
        _date_header = (second, format_datetime(datetime.fromtimestamp(second, UTC)))
    return _date_header[1]


def transactional_message(
    settings: Settings,
    template: str,
    context: Mapping[str, Any],
    to: str,
    *,
    language: str = DEFAULT_LANGUAGE,
) -> bytes:
    """One message to one address (a confirmation, a notice) in the subscriber's
    language: rendered, encoded, signed."""
    rendered = render_email(settings, template, context, language=language)
    compiled = compile_message(settings, rendered, list_headers=False)
    message = compiled.fill({"to": to, "message_id": message_id(settings), "date": now_header()})
    return sign_message(settings, message)

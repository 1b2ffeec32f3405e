"""The embedded default's email outbox: ``<data_dir>/outbox/*.eml``, read for the console.

Names are checked against the shape ``OutboxTransport`` writes, so a request can never
name a file outside the outbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

__all__ = ["MAILBOX_LIMIT", "MailNotFound", "ReadMail", "list_mail", "read_mail"]

MAILBOX_LIMIT = 100
_NAME = re.compile(r"\d{8}T\d{6}-[0-9a-f]{12}\.eml")


class MailNotFound(LookupError):
    pass


@dataclass(frozen=True)
class ReadMail:
    name: str
    headers: list[tuple[str, str]]
    text: str
    has_html: bool


def list_mail(directory: Path, limit: int = MAILBOX_LIMIT) -> tuple[list[str], int]:
    """The newest ``limit`` names, newest first, and how many there are in all."""
    if not directory.is_dir():
        return [], 0
    names = sorted((e.name for e in directory.iterdir() if _NAME.fullmatch(e.name)), reverse=True)
    return names[:limit], len(names)


def read_mail(directory: Path, name: str) -> ReadMail:
    path = directory / name
    if not _NAME.fullmatch(name) or not path.is_file():
        raise MailNotFound(name)
    with path.open("rb") as handle:
        message = BytesParser(policy=policy.default).parse(handle)
    assert isinstance(message, EmailMessage)  # policy.default parses to EmailMessage
    shown = [(key, str(value)) for key, value in message.items()]
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    has_html = message.get_body(preferencelist=("html",)) is not None
    return ReadMail(name, shown, text, has_html)

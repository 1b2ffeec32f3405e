"""The operators' notices as messages, Korean first (pure: the event in, bytes out).

Each kind of notice is one function of the event's payload. The caller derives the
Message-ID from the event, so a notice retried after a lost reply is the same message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any

__all__ = ["KINDS", "UnknownNotice", "render_notice"]


class UnknownNotice(ValueError):
    """A notice of a kind this version cannot word."""


def _partner_disabled(payload: Mapping[str, Any]) -> tuple[str, str]:
    name, partner_id = payload["name"], payload["partner_id"]
    reason, url = payload["reason"], payload["url"]
    subject = f"[syndicator] 협력사 웹훅 비활성화: {name}"
    body = (
        f"협력사 '{name}'(id {partner_id})의 웹훅 전송이 자동으로 중지되었습니다.\n"
        f"사유: {reason}\n주소: {url}\n\n"
        f"주소를 확인한 뒤 `syndicator partners enable {partner_id}`로 다시 켜고, "
        "실패한 전송은 recover로 다시 보내세요.\n\n"
        f"Partner '{name}' (id {partner_id}) was disabled: {reason}.\nURL: {url}\n"
        "Enable it again once fixed, then recover the failed deliveries.\n"
    )
    return subject, body


def _portal_link(payload: Mapping[str, Any]) -> tuple[str, str]:
    """``url``: the link, opened from the sealed one by the channel just before."""
    name, url, hours = payload["name"], payload["url"], payload["hours"]
    subject = f"[syndicator] 파트너 포털 링크 / Partner portal link: {name}"
    body = (
        f"'{name}'의 파트너 포털 링크입니다. {hours:g}시간 동안 쓸 수 있습니다.\n{url}\n\n"
        "요청하지 않았다면 이 메일을 무시하세요.\n\n"
        f"Here is the partner portal link for '{name}'. It works for {hours:g} hours.\n{url}\n\n"
        "If you did not ask for it, ignore this mail.\n"
    )
    return subject, body


# event type -> (subject, body) of its payload
KINDS: dict[str, Callable[[Mapping[str, Any]], tuple[str, str]]] = {
    "partner.disabled": _partner_disabled,
    "partner.portal-link": _portal_link,
}


def render_notice(
    sender: str,
    recipient: str,
    kind: str,
    payload: Mapping[str, Any],
    *,
    message_id: str,
    at: datetime,
) -> bytes:
    """The message for one notice event, CRLF line endings."""
    wording = KINDS.get(kind)
    if wording is None:
        raise UnknownNotice(f"no wording for a notice of kind {kind!r}")
    subject, body = wording(payload)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(at, usegmt=True)
    message["Message-ID"] = message_id
    message.set_content(body)
    return message.as_bytes(policy=SMTP)

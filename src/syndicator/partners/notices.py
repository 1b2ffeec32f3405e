"""The optional email to ``SYNDICATOR_OPS_EMAIL`` when a partner is disabled by itself."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid

from syndicator.config import Settings
from syndicator.logs import kv
from syndicator.mail.transport import open_transport
from syndicator.partners.health import Disabled

__all__ = ["disabled_notice", "notify_disabled"]

log = logging.getLogger("syndicator.partners")


def disabled_notice(sender: str, recipient: str, disabled: Disabled, domain: str) -> bytes:
    """The message, Korean first (pure)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = f"[syndicator] 협력사 웹훅 비활성화: {disabled.name}"
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(
        f"협력사 '{disabled.name}'(id {disabled.partner_id})의 웹훅 전송이 자동으로 "
        f"중지되었습니다.\n사유: {disabled.reason}\n주소: {disabled.url}\n\n"
        "주소를 확인한 뒤 `syndicator partners enable "
        f"{disabled.partner_id}`로 다시 켜고, 실패한 전송은 recover로 다시 보내세요.\n\n"
        f"Partner '{disabled.name}' (id {disabled.partner_id}) was disabled: "
        f"{disabled.reason}.\nURL: {disabled.url}\n"
        "Enable it again once fixed, then recover the failed deliveries.\n"
    )
    return message.as_bytes(policy=SMTP)


def notify_disabled(settings: Settings, disabled: Sequence[Disabled]) -> None:
    """Best effort: the partner's state is the record, the email only a nudge."""
    for item in disabled:
        log.warning(kv(msg="partner disabled", partner_id=item.partner_id, reason=item.reason))
    if not settings.ops_email or not disabled:
        return
    transport = open_transport(settings)
    try:
        for item in disabled:
            body = disabled_notice(settings.sender, settings.ops_email, item, settings.site_domain)
            transport.send(settings.sender, settings.ops_email, body)
    except Exception:
        log.exception(kv(msg="could not email the operators", to=settings.ops_email))
    finally:
        transport.close()

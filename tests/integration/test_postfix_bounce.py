"""A real Postfix writes the bounce: a private instance (its own configuration, queue and
data directories in a temp dir, SMTP on a free loopback port) takes a newsletter for a
local user that does not exist, its local delivery agent refuses it, and the bounce it
sends to the VERP envelope sender arrives at an aiosmtpd server of the test's own.
parse_report must read that bounce as a hard bounce of that recipient.

The instance is tests/postfix.py's: it needs root and Debian's postfix package, and
skips without them.
"""

from __future__ import annotations

import email
import smtplib
from email.message import EmailMessage

from syndicator.bounces.feedback import Ignored
from syndicator.bounces.parsing import parse_report
from tests.mail_server import running_mail_server
from tests.postfix import needs_postfix, private_postfix
from tests.processes import wait_for

TAG = "2a-7-abcdefghijklmnop"
VERP_SENDER = f"bounces+{TAG}@news.example.kr"

pytestmark = needs_postfix

MAIN_CF = """\
mydestination = $myhostname, localhost
# Take mail for any local name in SMTP, so that the local delivery agent, not smtpd,
# refuses the unknown user: that is what makes a bounce message rather than a 550.
local_recipient_maps =
alias_maps =
alias_database =
# Bounces to the newsletter's domain go to the test's SMTP server; no DNS anywhere.
transport_maps = inline:{{news.example.kr=smtp:[127.0.0.1]:{sink_port}}}
"""


def test_postfix_bounces_an_unknown_local_user_and_the_parser_reads_its_bounce() -> None:
    newsletter = EmailMessage()
    newsletter["From"] = "대구광역시 보도자료 <news@news.example.kr>"
    newsletter["To"] = "nosuchresident@mx.syndicator.test"
    newsletter["Subject"] = "대구시 뉴스레터 제42호"
    newsletter["Message-ID"] = "<newsletter-42.7@news.example.kr>"
    newsletter.set_content("웹에서 보기: https://news.example.kr/newsletters/42\n")

    with running_mail_server() as sink:
        main_cf = MAIN_CF.replace("{sink_port}", str(sink.port))
        with private_postfix(main_cf) as postfix:
            with smtplib.SMTP("127.0.0.1", postfix.smtp_port, timeout=30) as client:
                refused = client.send_message(newsletter, from_addr=VERP_SENDER)
            assert refused == {}, "Postfix took the mail for delivery"
            try:
                bounce = wait_for(
                    lambda: next(iter(sink.to(VERP_SENDER)), None),
                    seconds=60,
                    what="Postfix's bounce",
                )
            except Exception as exc:
                raise AssertionError(
                    f"no bounce arrived; Postfix's log:\n{postfix.maillog()}"
                ) from exc
            log = postfix.maillog()

    # It is Postfix's own bounce, as the stdlib's parser reads it.
    assert 'status=bounced (unknown user: "nosuchresident")' in log
    assert bounce.sender == "<>"  # a bounce's envelope sender is null
    parsed = email.message_from_bytes(bounce.raw)
    assert parsed.get_content_type() == "multipart/report"
    assert parsed["From"] == "Mail Delivery System <MAILER-DAEMON@mx.syndicator.test>"
    assert b"X-Postfix-Queue-ID:" in bounce.raw

    result = parse_report(bounce.raw)
    assert not isinstance(result, Ignored), result
    [feedback] = result
    assert feedback.kind == "hard_bounce"
    assert feedback.recipient == "nosuchresident@mx.syndicator.test"
    assert feedback.status == "5.1.1"
    assert feedback.diagnostic == 'unknown user: "nosuchresident"'
    assert feedback.answered_message_id == "<newsletter-42.7@news.example.kr>"
    assert feedback.verp_tag == TAG
    assert feedback.dedupe_key == f"{parsed['Message-ID']} nosuchresident@mx.syndicator.test"

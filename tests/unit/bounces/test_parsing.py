"""parse_report against a corpus of real bounces, complaints and automatic replies
(tests/fixtures/bounces/README.md says where each comes from), and against generated DSNs."""

from __future__ import annotations

import base64
import quopri
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicator.bounces.feedback import Feedback, Ignored
from syndicator.bounces.parsing import parse_report

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "bounces"
TAG = "2f-1c-a3k7q2m9x4v6b8n5"


class Expected(NamedTuple):
    kind: str
    recipient: str | None
    status: str | None
    answered: str | None = None
    verp_tag: str | None = None


# fixture -> what it says, one entry per recipient, in the report's order
BOUNCES: dict[str, list[Expected]] = {
    "postfix-local-unknown-user": [
        Expected(
            "hard_bounce",
            "nosuchresident@mx.syndicator.test",
            "5.1.1",
            "<newsletter-42.7@news.example.kr>",
            "2a-7-abcdefghijklmnop",
        )
    ],
    "postfix-two-unknown-users": [
        Expected("hard_bounce", "filtered@example.co.jp", "5.2.1"),
        Expected("hard_bounce", "userunknown@example.co.jp", "5.1.1"),
    ],
    "postfix-450-user-unknown": [
        Expected("soft_bounce", "kijitora@example.org", "4.1.1", "<FFFFFFFF.0000000@example.co.jp>")
    ],
    "postfix-connection-timed-out": [
        Expected(
            "soft_bounce",
            "kijitora@example.com",
            "4.4.1",
            "<143E20AB-3911-4809-8B49-BB1A17513571@mail.ru>",
        )
    ],
    "exim-two-unknown-users": [
        Expected(
            "hard_bounce",
            "kijitora@example.jp",
            "5.1.1",
            "<E1X58pB-0004bW-2s@marutamachi.example.org>",
        ),
        Expected(
            "hard_bounce",
            "sabatora@example.jp",
            "5.2.1",
            "<E1X58pB-0004bW-2s@marutamachi.example.org>",
        ),
    ],
    # Exim gave up ("retry timeout exceeded") without a code: a failure with no code is soft.
    "exim-retry-timeout": [
        Expected(
            "soft_bounce",
            "kijitora@example.com",
            None,
            "<00000000000000000000000000000000@mx.example.org>",
        )
    ],
    "exchange2007-recipient-not-found": [
        Expected("hard_bounce", "mikeneko@example.co.jp", "5.1.1")
    ],
    "office365-recipient-not-found": [
        Expected("hard_bounce", "kijitora-nyaan@neko.kyoto.example.jp", "5.1.10")
    ],
    "office365-mailbox-full-iso2022jp": [
        Expected("hard_bounce", "kijitora@cr.neko.nyaan.jp", "5.2.2")
    ],
    "gmail-user-unknown": [
        Expected(
            "hard_bounce",
            "userunknown@example.jp",
            "5.1.1",
            "<D992C2C3-F175-4C4D-97E2-53A90E4E5BF5@gmail.com>",
        )
    ],
    "gmail-mailbox-full": [
        Expected(
            "hard_bounce",
            "mailboxfull@bouncehammer.jp",
            "5.2.2",
            "<CAByYQsGrtAMtMPpgjc+VGGj=QWruPrLuUsee_4=ahWTY2KCBcg@mail.google.example.com>",
        )
    ],
    "outlook-two-recipients": [
        Expected(
            "hard_bounce",
            "sabineko@example.co.jp",
            "5.1.1",
            "<BLU436-SMTP695D62048105F50EF3A1B8BA770@phx.gbl>",
        ),
        Expected(
            "hard_bounce",
            "mikeneko@example.co.jp",
            "5.2.2",
            "<BLU436-SMTP695D62048105F50EF3A1B8BA770@phx.gbl>",
        ),
    ],
    # Failed, but on a temporary condition (the queue lifetime ran out): soft.
    "outlook-expired-4.4.7": [
        Expected(
            "soft_bounce",
            "kijitora@example.com",
            "4.4.7",
            "<BAY182-W4180385B0DABF89EB94B34A9300@phx.gbl>",
        )
    ],
    "qmail-unknown-user": [
        Expected(
            "hard_bounce",
            "kijitora@example.ne.jp",
            "5.5.0",
            "<000000000.9999999999999.JavaMail.postmaster@mailhub>",
        )
    ],
    "qmail-mailbox-full-4.2.2": [
        Expected(
            "soft_bounce",
            "kijitora@example.jp",
            "4.2.2",
            "<57D03121-12F7-4801-B30F-9E44B15E56DC@example.co.jp>",
        )
    ],
    "yahoo-user-unknown": [
        Expected(
            "hard_bounce",
            "kijitora@example.jp",
            "5.1.1",
            "<4480863.3669135.1417873350756.JavaMail.yahoo@jws10091.mail.ne1.yahoo.com>",
        )
    ],
    "naver-no-such-user": [
        Expected(
            "hard_bounce",
            "no-such-resident-2026@naver.com",
            "5.1.1",
            "<newsletter-42.1c@news.example.kr>",
            TAG,
        )
    ],
    "naver-mailbox-full-euckr": [
        Expected(
            "soft_bounce",
            "full-mailbox-resident@naver.com",
            "4.2.2",
            "<newsletter-43.1d@news.example.kr>",
            TAG,
        )
    ],
    "daum-dormant-global-dsn": [
        Expected(
            "hard_bounce",
            "dormant-resident@hanmail.net",
            "5.2.1",
            "<newsletter-44.1e@news.example.kr>",
            TAG,
        )
    ],
    "arf-yahoo-abuse": [
        Expected(
            "complaint",
            "this-local-part-does-not-exist-on-yahoo@yahoo.com",
            None,
            "<000000000000000000000000.smtp@example.com>",
        )
    ],
    "arf-abuse-verp-sender": [
        Expected(
            "complaint",
            "complaining-resident@yahoo.co.kr",
            None,
            "<newsletter-46.20@news.example.kr>",
            TAG,
        )
    ],
    "jmrp-microsoft-complaint": [
        Expected(
            "complaint",
            "kijitora@example.com",
            None,
            "<0000000000fffffffff0000000000000@example.com>",
        )
    ],
}

IGNORED: dict[str, str] = {
    "gmail-delayed": "delayed",
    "outlook-delayed-dsn": "delayed",
    "autoreply-auto-submitted": "automatic reply",
    "autoreply-exchange-automatic-reply": "automatic reply",
    "autoreply-apple-vacation": "automatic reply",
    "autoreply-korean-out-of-office": "automatic reply",
    "arf-auth-failure": "feedback report of type auth-failure",
    "arf-opt-out": "feedback report of type opt-out",
    "not-a-bounce": "no bounce or complaint",
}


def read(name: str) -> bytes:
    return (CORPUS / f"{name}.eml").read_bytes()


def test_every_fixture_has_an_expectation() -> None:
    on_disk = {path.stem for path in CORPUS.glob("*.eml")}
    assert on_disk == set(BOUNCES) | set(IGNORED)


@pytest.mark.parametrize("name", sorted(BOUNCES))
def test_a_real_report_reads_as_its_feedback(name: str) -> None:
    result = parse_report(read(name))
    assert isinstance(result, list), result
    got = [
        Expected(f.kind, f.recipient, f.status, f.answered_message_id, f.verp_tag) for f in result
    ]
    assert got == BOUNCES[name]


@pytest.mark.parametrize("name", sorted(IGNORED))
def test_a_report_that_carries_no_feedback_is_ignored_and_says_why(name: str) -> None:
    result = parse_report(read(name))
    assert isinstance(result, Ignored), result
    assert IGNORED[name] in result.reason


@pytest.mark.parametrize("name", sorted(BOUNCES))
def test_every_feedback_keeps_evidence_and_a_key_unique_to_it(name: str) -> None:
    raw = read(name)
    result = parse_report(raw, source="imap")
    assert isinstance(result, list)
    keys = [f.dedupe_key for f in result]
    assert all(keys) and len(set(keys)) == len(keys)
    for feedback in result:
        assert feedback.source == "imap"
        assert feedback.evidence and len(feedback.evidence) <= 2000
        assert feedback.evidence.startswith("From: ")
        if feedback.kind != "complaint":
            hard = feedback.status is not None and feedback.status.startswith("5.")
            assert feedback.kind == ("hard_bounce" if hard else "soft_bounce")
    # The same bytes read again are the same feedback: a report fetched twice dedupes.
    assert parse_report(raw, source="imap") == result


def test_the_diagnostic_keeps_korean_whatever_the_charset() -> None:
    euc_kr = parse_report(read("naver-mailbox-full-euckr"))
    utf_8 = parse_report(read("daum-dormant-global-dsn"))
    assert isinstance(euc_kr, list) and isinstance(utf_8, list)
    assert euc_kr[0].diagnostic == "452 4.2.2 받는 사람의 메일함이 가득 찼습니다"
    assert utf_8[0].diagnostic == "550 5.2.1 휴면 계정입니다 (dormant account)"
    assert "Subject: 메일 발송 실패 안내" in (euc_kr[0].evidence or "")


def test_the_evidence_holds_no_body() -> None:
    result = parse_report(read("naver-no-such-user"))
    assert isinstance(result, list)
    evidence = result[0].evidence or ""
    assert "Status: 5.1.1" in evidence and "Remote-MTA: dns; mx1.naver.com" in evidence
    assert "mail system at host" not in evidence  # the notice's text
    assert "웹에서 보기" not in evidence and "newsletters/42" not in evidence  # the returned body


def test_the_address_the_mail_was_delivered_to_wins_for_the_tag() -> None:
    raw = read("naver-no-such-user")
    result = parse_report(raw, envelope_to="bounces+ffff-1-zzzzzzzzzzzzzzzz@news.example.kr")
    assert isinstance(result, list)
    assert result[0].verp_tag == "ffff-1-zzzzzzzzzzzzzzzz"


def test_no_tag_without_a_plus_address() -> None:
    result = parse_report(read("gmail-user-unknown"))
    assert isinstance(result, list)
    assert result[0].verp_tag is None


def test_a_report_without_a_message_id_is_known_by_its_bytes() -> None:
    raw = read("qmail-unknown-user")
    assert b"\nMessage-I" not in raw.split(b"\n\n", 1)[0]
    result = parse_report(raw)
    assert isinstance(result, list)
    assert (result[0].dedupe_key or "").startswith("sha256:")


@pytest.mark.parametrize(
    "raw",
    [b"", b"\n\n", b"not a mail at all", b"\x00\xff\xfe", b"Subject: hello\n\nhi"],
)
def test_what_is_no_mail_is_ignored(raw: bytes) -> None:
    assert isinstance(parse_report(raw), Ignored)


# Generated DSNs -------------------------------------------------------------------------

local_parts = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,20}", fullmatch=True)
domains = st.from_regex(r"[a-z0-9]{1,12}\.(kr|com|net|co\.kr)", fullmatch=True)
addresses = st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains)
statuses = st.tuples(st.sampled_from("45"), st.integers(0, 7), st.integers(0, 999)).map(
    lambda t: f"{t[0]}.{t[1]}.{t[2]}"
)
korean = st.text(alphabet=st.sampled_from("가나다라마바사메일함용량초과없는사용자 "), max_size=30)
charsets = st.sampled_from(["utf-8", "euc-kr", "us-ascii"])
encodings = st.sampled_from(["base64", "quoted-printable", "8bit"])


def _encoded(data: bytes, cte: str) -> bytes:
    if cte == "base64":
        return base64.encodebytes(data)
    if cte == "quoted-printable":
        return quopri.encodestring(data)
    return data


def dsn(
    recipients: list[tuple[str, str, str]],
    notice: str,
    charset: str,
    cte: str,
    bounce_to: str,
    status_cte: str = "7bit",
) -> bytes:
    """A DSN as a mail server writes one: (recipient, status, action) per block."""
    text = notice or "failed"
    blocks = ["Reporting-MTA: dns; mx.example.kr"] + [
        f"Final-Recipient: rfc822; {address}\nAction: {action}\nStatus: {code}\n"
        f"Diagnostic-Code: smtp; {code[0]}50 {code} {text[:20]}"
        for address, code, action in recipients
    ]
    status = ("\n\n".join(blocks) + "\n").encode("utf-8")
    parts = [
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.kr>",
        f"To: {bounce_to}".encode(),
        b"Subject: Undelivered Mail Returned to Sender",
        b"Message-ID: <dsn-1@mx.example.kr>",
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
        b"",
        b"--B",
        f"Content-Type: text/plain; charset={charset}".encode(),
        f"Content-Transfer-Encoding: {cte}".encode(),
        b"",
        _encoded(text.encode(charset, "replace"), cte),
        b"--B",
        b"Content-Type: message/delivery-status",
        f"Content-Transfer-Encoding: {status_cte}".encode(),
        b"",
        _encoded(status, status_cte),
        b"--B",
        b"Content-Type: message/rfc822",
        b"",
        b"Message-ID: <newsletter-9@news.example.kr>",
        f"To: {recipients[0][0]}".encode(),
        b"Content-Type: text/plain; charset=utf-8",
        b"",
        "본문".encode(),
        b"--B--",
        b"",
    ]
    return b"\n".join(parts)


@settings(max_examples=60)
@given(
    recipients=st.lists(
        st.tuples(addresses, statuses, st.sampled_from(["failed", "delayed", "delivered"])),
        min_size=1,
        max_size=4,
        unique_by=lambda r: r[0],
    ),
    notice=korean,
    charset=charsets,
    cte=encodings,
    status_cte=st.sampled_from(["7bit", "8bit", "base64"]),
)
def test_a_generated_dsn_is_classified_by_the_class_of_each_status(
    recipients: list[tuple[str, str, str]], notice: str, charset: str, cte: str, status_cte: str
) -> None:
    bounce_to = "bounces+1-2-abcdefghijklmnop@news.example.kr"
    raw = dsn(recipients, notice, charset, cte, bounce_to, status_cte)
    result = parse_report(raw)
    failed = [(a, code) for a, code, action in recipients if action == "failed"]
    if not failed:
        assert isinstance(result, Ignored)
        return
    assert isinstance(result, list)
    got = {(f.recipient, f.status, f.kind) for f in result}
    assert got == {
        (a, code, "hard_bounce" if code.startswith("5") else "soft_bounce") for a, code in failed
    }
    assert {f.verp_tag for f in result} == {"1-2-abcdefghijklmnop"}
    assert {f.answered_message_id for f in result} == {"<newsletter-9@news.example.kr>"}


@settings(max_examples=150)
@given(raw=st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    result = parse_report(raw)
    assert isinstance(result, (list, Ignored))


@settings(max_examples=80)
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "Content-Type",
                    "Content-Transfer-Encoding",
                    "Subject",
                    "From",
                    "To",
                    "Delivered-To",
                    "Auto-Submitted",
                    "Message-ID",
                    "X-Failed-Recipients",
                ]
            ),
            st.text(max_size=60).filter(lambda v: "\n" not in v and "\r" not in v),
        ),
        max_size=8,
    ),
    body=st.binary(max_size=600),
)
def test_damaged_reports_never_raise(headers: list[tuple[str, str]], body: bytes) -> None:
    """A real report with its headers swapped for nonsense still parses."""
    head = "".join(f"{name}: {value}\n" for name, value in headers).encode(
        "utf-8", "surrogateescape"
    )
    for base in ("naver-no-such-user", "arf-yahoo-abuse", "qmail-unknown-user"):
        original = read(base)
        raw = head + original.split(b"\n\n", 1)[1] + body
        result = parse_report(raw)
        assert isinstance(result, (list, Ignored))
        if isinstance(result, list):
            assert all(isinstance(f, Feedback) for f in result)


def test_a_dsn_part_sent_base64_still_reads() -> None:
    """RFC 2045 forbids encoding message/* parts; some servers do it anyway."""
    recipients = [("resident@example.kr", "5.1.1", "failed")]
    raw = dsn(recipients, "없는 사용자", "utf-8", "8bit", "x@y.kr", status_cte="base64")
    assert b"Content-Transfer-Encoding: base64" in raw.split(b"delivery-status", 2)[2][:200]
    result = parse_report(raw)
    assert isinstance(result, list)
    assert [(f.recipient, f.status, f.diagnostic) for f in result] == [
        ("resident@example.kr", "5.1.1", "550 5.1.1 없는 사용자")
    ]


@pytest.mark.parametrize("name", sorted(BOUNCES) + sorted(IGNORED))
def test_crlf_line_ends_read_the_same(name: str) -> None:
    """IMAP hands messages over with CRLF line ends; a pipe usually with LF."""
    lf = read(name).replace(b"\r\n", b"\n")
    crlf = lf.replace(b"\n", b"\r\n")
    plain, wire = parse_report(lf), parse_report(crlf)
    if isinstance(plain, Ignored):
        assert wire == plain
        return
    assert isinstance(wire, list)
    # Only the key of a report without a Message-ID (a hash of its bytes) may differ.
    assert [replace(f, dedupe_key=None) for f in wire] == [
        replace(f, dedupe_key=None) for f in plain
    ]


def test_an_mbox_from_line_in_front_changes_nothing() -> None:
    """A pipe with Postfix's F flag (or an mbox) puts a 'From ' line before the headers."""
    raw = read("postfix-local-unknown-user")
    with_from = b"From MAILER-DAEMON  Mon Dec  7 05:40:31 2026\n" + raw
    assert parse_report(with_from) == parse_report(raw)

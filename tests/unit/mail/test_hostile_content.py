"""Hostile release content through the real composition (an immediate newsletter and a
digest), each message read back with the ``email`` parser.

Release text reaches a newsletter after the CMS contract's clean-up, but the composition
must hold on its own: content stored before a rule existed, or a template that prints a
new field, must never let text end a header, add one, or push a line past SMTP's 998
octets. So the content here goes in raw, and also through ``CmsEvent`` as the hook
stores it.
"""

from __future__ import annotations

from datetime import date
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from syndicator.config import Settings
from syndicator.events.schema import CmsEvent
from syndicator.mail.compose import MessageTemplate
from syndicator.mail.digests import period_label
from syndicator.mail.newsletter import compile_newsletter, personalise, release_newsletter
from syndicator.mail.views import release_view
from tests.factories import make_event
from tests.strategies import hostile_text
from tests.unit.mail.support import links, mail_settings

NEWSLETTER_HEADERS = [
    "From",
    "Subject",
    "List-Id",
    "To",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Content-Language",
    "MIME-Version",
    "Content-Type",
]
SMTP_LINE = 998
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
INJECTIONS = [
    "\r\nBcc: victim@example.org",
    "\nBcc: victim@example.org",
    "\rBcc: victim@example.org",
    "\r\n\r\n<html>body</html>",
    "\u2028Bcc: victim@example.org",
    "\x85Bcc: victim@example.org",
    "=?utf-8?q?=0D=0ABcc:_victim@example.org?=",
    "\x00",
    "--=_syndicator_",
]

# Any character but a lone surrogate (UTF-8 cannot carry one), in runs and fragments.
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
long_line = st.builds(
    lambda char, n: char * n,
    st.sampled_from(["가", "a", "=", " ", "\u202e", "🎉", "\t"]),
    st.integers(9_990, 10_010),
)
hostile = st.lists(
    st.one_of(
        any_text,
        st.sampled_from(INJECTIONS),
        st.text(st.sampled_from(BIDI + "\r\n\x00가a "), max_size=20),
        long_line,
    ),
    min_size=1,
    max_size=6,
).map("".join)


def _release(
    title: str, summary: str, department: str, category: str, filename: str
) -> dict[str, Any]:
    release = make_event(
        7, title=title, summary=summary, subtitle=summary[:1000], department=department
    )["release"]
    release["categories"] = [category]
    release["attachments"][0]["filename"] = filename
    return release


def _parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def _assert_sound(raw: bytes, title: str) -> None:
    """Parses without defects, carries exactly the headers composed, no line over 998
    octets, CRLF only, and the body reads back with the (whitespace-folded) title."""
    assert b"\n" not in raw.replace(b"\r\n", b""), "a bare LF"
    assert b"\r" not in raw.replace(b"\r\n", b""), "a bare CR"
    longest = max(len(line) for line in raw.split(b"\r\n"))
    assert longest <= SMTP_LINE, f"a line of {longest} octets"
    message = _parse(raw)
    assert [*message.keys()] == NEWSLETTER_HEADERS
    parts = [message, *message.walk()]
    assert not [(part.get_content_type(), part.defects) for part in parts if part.defects]
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    for part in message.iter_parts():
        assert [*part.keys()] == ["Content-Type", "Content-Transfer-Encoding"]
    words = " ".join(title.split())
    assert words in " ".join(str(message["Subject"]).split())
    text = message.get_body(("plain",))
    assert text is not None
    assert words in " ".join(text.get_content().split())


def _fill(settings: Settings, template: MessageTemplate) -> bytes:
    raw, _ = personalise(settings, template, "resident@example.org", links(settings, 42), "e.42")
    return raw


@pytest.fixture(scope="module")
def settings_(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return mail_settings(tmp_path_factory.mktemp("mail"))


_fuzz = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.slow
@_fuzz
@given(
    title=hostile,
    summary=hostile,
    department=hostile,
    category=hostile,
    filename=hostile,
)
@example(
    title="제목\r\nBcc: victim@example.org",
    summary="가" * 10_000,
    department="\u202e과책정생위",
    category="\r\n\r\n",
    filename="a" * 10_000,
)
@example(  # an encoded word that decodes to CRLF: email's folder made it a real header
    title="보도자료 =?utf-8?q?=0D=0ABcc:_victim@example.org?= 안내",
    summary="",
    department="과",
    category="경제",
    filename="a.hwp",
)
def test_a_hostile_release_makes_a_sound_newsletter(
    settings_: Settings, title: str, summary: str, department: str, category: str, filename: str
) -> None:
    release = _release(title, summary, department, category, filename)
    raw = _fill(settings_, release_newsletter(settings_, "release.published", {"release": release}))
    _assert_sound(raw, title)


@pytest.mark.slow
@_fuzz
@given(titles=st.lists(hostile, min_size=1, max_size=4), summary=hostile, department=hostile)
@example(titles=["\r\nBcc: victim@example.org", "가" * 10_000], summary="\x00", department="\n")
def test_a_digest_of_hostile_releases_is_sound(
    settings_: Settings, titles: list[str], summary: str, department: str
) -> None:
    releases = [release_view(_release(t, summary, department, t, t)) for t in titles]
    context = {"period_label": period_label("daily", date(2026, 11, 28)), "releases": releases}
    raw = _fill(settings_, compile_newsletter(settings_, "digest", context))
    _assert_sound(raw, "")
    text = _parse(raw).get_body(("plain",))
    assert text is not None
    body = " ".join(text.get_content().split())
    for title in titles:
        assert " ".join(title.split()) in body


@_fuzz
@given(title=hostile, summary=hostile, department=hostile)
def test_what_the_hook_accepts_makes_a_sound_newsletter(
    settings_: Settings, title: str, summary: str, department: str
) -> None:
    """The stored payload: text after the contract's clean-up (bidi controls, NUL gone)."""
    try:
        event = CmsEvent.model_validate(
            make_event(7, title=title[:500], summary=summary[:5000], department=department[:200])
        )
    except ValidationError:
        return  # refused at intake: nothing to mail
    payload = event.model_dump(mode="json")
    raw = _fill(settings_, release_newsletter(settings_, "release.published", payload))
    _assert_sound(raw, event.release.title)
    assert not set(BIDI + "\x00") & set(_parse(raw).get_body(("plain",)).get_content())


@given(text=hostile_text)
@_fuzz
def test_the_suites_hostile_text_as_a_title(settings_: Settings, text: str) -> None:
    """tests/strategies.py's classes (noncharacters, zero-width, markup), surrogates
    removed as UTF-8 demands."""
    title = text.encode("utf-8", "replace").decode("utf-8") or "x"
    title = "".join(c for c in title if not 0xD800 <= ord(c) <= 0xDFFF) or "x"
    release = _release(title, "요약", "위생정책과", "경제", "a.hwp")
    raw = _fill(settings_, release_newsletter(settings_, "release.published", {"release": release}))
    _assert_sound(raw, title)

"""Newsletters compiled once and filled per recipient, checked with the ``email`` parser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from pydantic import ValidationError

from syndicator.events.schema import CmsEvent
from syndicator.mail.compose import transactional_message
from syndicator.mail.newsletter import personalise, release_newsletter
from tests.factories import make_event
from tests.unit.mail.support import assert_wire_format, links, mail_settings, parse

UNSUBSCRIBE = "https://press.example.kr/unsubscribe/"


def newsletter(tmp_path: Path, event: dict, to: str = "주민@example.org") -> bytes:
    settings = mail_settings(tmp_path)
    payload = CmsEvent.model_validate(event).model_dump(mode="json")
    template = release_newsletter(settings, event["type"], payload)
    raw, _ = personalise(settings, template, "resident@example.org", links(settings, 42), "evt1.42")
    return raw


def test_headers_parts_and_korean_subject(tmp_path: Path) -> None:
    raw = newsletter(tmp_path, make_event(7, title="대구시, 🎉 시민의 날 행사 안내 — “특별” 편"))
    assert_wire_format(raw)
    message = parse(raw)
    assert message["Subject"] == "[대구광역시 보도자료] 대구시, 🎉 시민의 날 행사 안내 — “특별” 편"
    assert re.search(rb"^Subject: =\?utf-8\?", raw, re.M), "RFC 2047 encoded"
    assert message["To"] == "resident@example.org"
    assert message["Message-ID"] == "<evt1.42@daegu.go.kr>"
    assert message["Date"].datetime is not None
    assert message["From"].addresses[0].addr_spec == "noreply@daegu.go.kr"
    links = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    assert links[0].startswith(UNSUBSCRIBE)
    assert links[1] == "mailto:noreply@daegu.go.kr?subject=unsubscribe"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "<newsletter.daegu.go.kr>" in message["List-Id"]
    assert message.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in message.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    for part in message.iter_parts():
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part.get_content_disposition() is None  # links, never attachments


def test_both_parts_carry_the_links_and_the_attachment_sizes(tmp_path: Path) -> None:
    message = parse(newsletter(tmp_path, make_event(7)))
    token_url = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))[0]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for body in (text, html):
        assert token_url in body
        assert "https://press.example.kr/preferences/" in body
        assert "수신 거부" in body
        assert "보도자료.hwp" in body and "HWP, 47KB" in body
    assert '<html lang="ko">' in html
    assert 'name="color-scheme"' in html
    assert 'class="preheader"' in html and "대구시가 이용기술 경연대회를 엽니다." in html
    assert re.search(r'<td[^>]*style="[^"]*padding', html), "CSS inlined into the table"
    assert "<img" not in html  # nothing to block, no tracking pixel
    assert 'href="https://www.daegu.go.kr/news/press/7"' in html  # links left as they are


def test_each_recipient_gets_their_own_links_and_nothing_else_changes(tmp_path: Path) -> None:
    settings = mail_settings(tmp_path)
    payload = CmsEvent.model_validate(make_event(9)).model_dump(mode="json")
    template = release_newsletter(settings, "release.published", payload)
    first, _ = personalise(settings, template, "a@example.org", links(settings, 1), "e.1")
    second, _ = personalise(settings, template, "b@example.org", links(settings, 2), "e.2")
    one, two = parse(first), parse(second)
    assert one["List-Unsubscribe"] != two["List-Unsubscribe"]
    assert one["Message-ID"] != two["Message-ID"]
    assert one["Subject"] == two["Subject"]
    html_one = one.get_body(("html",)).get_content()
    html_two = two.get_body(("html",)).get_content()
    strip = re.compile(r"https://press\.example\.kr/(unsubscribe|preferences)/[^\"<\s]+")
    assert strip.sub("", html_one) == strip.sub("", html_two)


def test_correction_subject(tmp_path: Path) -> None:
    event = make_event(3, type="release.updated")
    event["significant"] = True
    assert parse(newsletter(tmp_path, event))["Subject"].startswith("[대구광역시 보도자료] [수정]")


korean = st.text(
    alphabet=st.sampled_from(list("가나다라마바사아자차카타파하한글 \n\t=.<>&\"'abcXYZ019-_—🎉")),
    min_size=1,
    max_size=3000,
)


@hyp_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=korean,
    summary=korean,
    department=st.text(st.sampled_from("가나다과 =."), min_size=1, max_size=200),
    token=st.text(st.sampled_from("AZaz09.-_="), min_size=1, max_size=300),
)
def test_any_release_text_stays_valid_mail(
    tmp_path_factory: pytest.TempPathFactory,
    title: str,
    summary: str,
    department: str,
    token: str,
) -> None:
    try:
        event = CmsEvent.model_validate(
            make_event(5, title=title[:500], summary=summary, department=department)
        )
    except ValidationError:
        assume(False)
        return
    settings = mail_settings(tmp_path_factory.mktemp("mail"))
    template = release_newsletter(settings, "release.published", event.model_dump(mode="json"))
    values = {
        "to": "r@example.org",
        "message_id": "<x@daegu.go.kr>",
        "date": "Sat, 28 Nov 2026 09:00:00 +0900",
        "unsubscribe_url": UNSUBSCRIBE + token,
        "preferences_url": "https://press.example.kr/preferences/" + token,
    }
    raw = template.fill(values)
    assert_wire_format(raw)
    assert max(len(line) for line in raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")) <= 76
    message = parse(raw)
    assert message["Subject"] == " ".join(f"[대구광역시 보도자료] {event.release.title}".split())
    text = message.get_body(("plain",)).get_content()
    assert UNSUBSCRIBE + token in text
    assert " ".join(event.release.title.split()) in " ".join(text.split())
    html = message.get_body(("html",)).get_content()
    assert UNSUBSCRIBE + token.replace('"', "&quot;") in html


def test_transactional_message(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    (templates / "email" / "hello").mkdir(parents=True)
    (templates / "email" / "hello" / "subject.txt").write_text("{{ site_title }} 구독 확인\n")
    (templates / "email" / "hello" / "body.txt").write_text("확인: {{ link }}\n")
    (templates / "email" / "hello" / "body.html").write_text(
        '<html lang="ko"><style>p{color:red}</style><p>확인: {{ link }}</p></html>'
    )
    settings = mail_settings(tmp_path).with_(templates_dir=templates)
    raw = transactional_message(settings, "hello", {"link": "https://x/c/t"}, "a@example.org")
    assert_wire_format(raw)
    message = parse(raw)
    assert message["Subject"] == "대구광역시 보도자료 구독 확인"
    assert message["To"] == "a@example.org" and message["Message-ID"] and message["Date"]
    assert "List-Unsubscribe" not in message
    assert "https://x/c/t" in message.get_body(("plain",)).get_content()
    assert 'style="color: red' in message.get_body(("html",)).get_content()

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
from syndicator.mail.compose import (
    RenderedEmail,
    _slot_marker,
    compile_message,
    transactional_message,
)
from syndicator.mail.digests import period_label
from syndicator.mail.newsletter import compile_newsletter, personalise, release_newsletter
from syndicator.mail.views import release_view
from tests.factories import make_event
from tests.unit.mail.support import assert_wire_format, links, mail_settings, parse

UNSUBSCRIBE = "https://press.example.kr/unsubscribe/"


def newsletter(
    tmp_path: Path, event: dict, to: str = "주민@example.org", language: str = "ko"
) -> bytes:
    settings = mail_settings(tmp_path)
    payload = CmsEvent.model_validate(event).model_dump(mode="json")
    template = release_newsletter(settings, event["type"], payload, language)
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
    body_lines = raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
    assert max(len(line) for line in body_lines) <= 76
    assert not any(line.startswith(b".") for line in body_lines), "nothing left to dot-stuff"
    message = parse(raw)
    assert message["Subject"] == " ".join(f"[대구광역시 보도자료] {event.release.title}".split())
    text = message.get_body(("plain",)).get_content()
    assert UNSUBSCRIBE + token in text
    assert " ".join(event.release.title.split()) in " ".join(text.split())
    html = message.get_body(("html",)).get_content()
    assert UNSUBSCRIBE + token.replace('"', "&quot;") in html


@hyp_settings(max_examples=30, deadline=None)
@given(
    text=st.text(st.sampled_from(list(". 가a=\n")), min_size=1, max_size=400),
    value=st.text(st.sampled_from(list(".a=")), min_size=1, max_size=300),
)
def test_no_line_starts_with_a_dot_and_the_text_survives(text: str, value: str) -> None:
    """Dots where QP breaks lines, and in a slot's value: each goes out encoded, so the
    transport never dot-stuffs, and the ``email`` parser reads the same text back."""
    rendered = RenderedEmail("s", f"{text}{_slot_marker('unsubscribe_url')}{text}", text)
    template = compile_message(mail_settings(Path("/nonexistent")), rendered, list_headers=True)
    raw = template.fill(
        {
            "to": "r@example.org",
            "message_id": "<x@daegu.go.kr>",
            "date": "Sat, 28 Nov 2026 09:00:00 +0900",
            "unsubscribe_url": value,
            "preferences_url": value,
        }
    )
    assert_wire_format(raw)
    lines = raw.split(b"\r\n")
    assert not any(line.startswith(b".") for line in lines)
    assert max(len(line) for line in raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")) <= 76
    message = parse(raw)
    plain = message.get_body(("plain",)).get_content()
    assert plain.replace("\r\n", "\n").rstrip("\n") == f"{text}{value}{text}".rstrip("\n")
    html = message.get_body(("html",)).get_content()
    assert html.replace("\r\n", "\n").rstrip("\n") == text.rstrip("\n")


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


def test_a_message_says_its_language(tmp_path: Path) -> None:
    """Content-Language names the language the chrome was rendered in, and the templates
    see it (for ``<html lang>``); a newsletter is Korean unless asked otherwise."""
    assert parse(newsletter(tmp_path, make_event(7)))["Content-Language"] == "ko"
    templates = tmp_path / "templates"
    (templates / "email" / "hello").mkdir(parents=True)
    (templates / "email" / "hello" / "subject.txt").write_text(
        "{% trans %}보도자료{% endtrans %}\n"
    )
    (templates / "email" / "hello" / "body.txt").write_text("{{ _('복사') }}\n")
    (templates / "email" / "hello" / "body.html").write_text('<html lang="{{ language }}"></html>')
    settings = mail_settings(tmp_path).with_(templates_dir=templates)
    for language, subject, text in (("ko", "보도자료", "복사"), ("en", "Press releases", "Copy")):
        raw = transactional_message(settings, "hello", {}, "a@example.org", language=language)
        assert_wire_format(raw)
        message = parse(raw)
        assert message["Content-Language"] == language
        assert message["Subject"] == subject
        assert message.get_body(("plain",)).get_content().strip() == text
        assert f'lang="{language}"' in message.get_body(("html",)).get_content()


def test_an_english_newsletter_keeps_the_release_as_written(tmp_path: Path) -> None:
    """The chrome is English, the release text Korean, and the plain part reads alone."""
    event = make_event(7, title="대구시 청년 일자리 지원", type="release.updated")
    raw = newsletter(tmp_path, event, language="en")
    assert_wire_format(raw)
    message = parse(raw)
    assert message["Content-Language"] == "en"
    assert message["Subject"] == "[대구광역시 보도자료] [Corrected] 대구시 청년 일자리 지원"
    text = message.get_body(("plain",)).get_content()
    assert re.search(r"^Full release \[\d+\]\r?$", text, re.M), text
    assert re.search(r"^Unsubscribe \[\d+\]\r?$", text, re.M), text
    assert re.search(r"^Links\r?$", text, re.M) and "[1] https://" in text
    assert "You receive this mail because you subscribed to 대구광역시 보도자료." in text
    assert re.search(r"\w{3} \d{1,2} \w{3} \d{4}, \d\d:\d\d KST", text), text
    assert "전문 보기" not in text and "수신 거부" not in text
    html = message.get_body(("html",)).get_content()
    assert 'lang="en"' in html and "Read the full release" in html
    assert re.search(r'<h2 class="title"[^>]* lang="ko"', html)  # the title, as Korean
    assert "This press release has been corrected." in html


def test_an_english_digest_names_its_period_in_english(tmp_path: Path) -> None:
    from datetime import date

    settings = mail_settings(tmp_path)
    release = CmsEvent.model_validate(make_event(3)).model_dump(mode="json")["release"]
    label = period_label("weekly", date(2026, 12, 7), "en")
    assert label == "week of 30 November"
    assert period_label("daily", date(2026, 12, 7)) == "12월 7일"
    context = {"period_label": label, "releases": [release_view(release, "en")]}
    template = compile_newsletter(settings, "digest", context, "en")
    raw, _ = personalise(settings, template, "a@example.org", links(settings, 1), "d.1")
    message = parse(raw)
    assert message["Content-Language"] == "en"
    assert message["Subject"] == "[대구광역시 보도자료] Press releases, week of 30 November: 1"
    text = message.get_body(("plain",)).get_content()
    assert text.startswith("대구광역시 보도자료, week of 30 November (press releases: 1)")

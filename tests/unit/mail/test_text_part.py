"""The plain-text part reads on its own: no HTML remnants (tags, entities), and every link
of the HTML part listed at its end as a numbered reference. Release content is generated
(markup characters, ampersands, Korean, links with queries) and goes through ``CmsEvent``
as the hook stores it; the messages are read back with the ``email`` parser."""

from __future__ import annotations

import re
from datetime import date
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from syndicator.config import Settings
from syndicator.events.schema import CmsEvent
from syndicator.mail.compose import MessageTemplate, transactional_message
from syndicator.mail.digests import period_label
from syndicator.mail.newsletter import compile_newsletter, personalise, release_newsletter
from syndicator.mail.views import release_view
from syndicator.mail.welcome import welcome_message, welcome_view
from tests.factories import make_event
from tests.unit.mail.support import links, mail_settings

TAG = re.compile(r"</?[A-Za-z!][^\s<>]*")
ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);")
WEB_COPY = "https://press.example.kr/newsletters/AbCdEfGhIjKlMnOpQrSt"

# Each value between two ¤, so that taking the release's own text out of the text part
# (what is left must look like no HTML) never takes out anything else.
_words = st.text(st.sampled_from("가나다라 대구시 abc<>&;\"'/#=!x1 "), min_size=1, max_size=30).map(
    lambda w: f"¤{w}¤"
)
_url = st.builds(
    lambda path, query: f"https://www.daegu.go.kr/{path}{query}",
    st.text(st.sampled_from("abc가나123-_."), min_size=1, max_size=12),
    st.sampled_from(["", "?a=1&b=2", "?x=&amp;", "#top", "?q=<b>"]),
)
_attachment = st.fixed_dictionaries(
    {
        "filename": _words.map(lambda w: w.strip() + ".hwp"),
        "url": _url,
        "size": st.integers(0, 10**7),
    }
)
_release = st.fixed_dictionaries(
    {
        "title": _words,
        "subtitle": st.none() | _words,
        "summary": st.none() | _words,
        "department": _words,
        "categories": st.lists(_words, max_size=3),
        "url": _url,
        "attachments": st.lists(_attachment, max_size=3),
    }
)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.update(value for name, value in attrs if name == "href" and value)


def _parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _parts(raw: bytes) -> tuple[str, str]:
    message = _parse(raw)
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content().replace("\r\n", "\n"), html.get_content()


def assert_reads_on_its_own(raw: bytes, verbatim: list[str]) -> None:
    """``verbatim``: the release's own text, which may hold ``<`` or ``&`` as text; it
    must appear as written (never escaped), and apart from it nothing looks like HTML."""
    text, html = _parts(raw)
    rest = text
    for value in sorted(set(verbatim), key=len, reverse=True):
        assert value in text, f"{value!r} escaped or lost in the text part"
        rest = rest.replace(value, "")
    assert not TAG.search(rest), TAG.search(rest)
    assert not ENTITY.search(rest), ENTITY.search(rest)
    assert not re.search(r"[ \t]+$", text, re.M), "trailing whitespace"
    assert "\n\n\n\n" not in text, "runs of blank lines"
    body, _, listing = rest.rpartition("\n\n")
    refs = dict(re.findall(r"^\[(\d+)\] (\S+)$", text, re.M))
    assert list(refs) == [str(n) for n in range(1, len(refs) + 1)], "numbered in order"
    parser = _Links()
    parser.feed(html)
    assert parser.hrefs == set(refs.values()), "every link of the HTML part, and only those"
    for number in refs:
        assert f"[{number}]" in text.split("\n[1] ")[0], f"[{number}] is never mentioned"
    assert body and listing


def _fill(settings: Settings, template: MessageTemplate) -> bytes:
    raw, _ = personalise(settings, template, "resident@example.org", links(settings, 42), "e.42")
    return raw


def _stored(release: dict[str, Any], release_id: int = 7) -> dict[str, Any]:
    try:
        event = CmsEvent.model_validate(make_event(release_id, **release))
    except ValidationError:
        assume(False)
        raise
    payload = event.model_dump(mode="json")["release"]
    assert isinstance(payload, dict)
    return payload


def _verbatim(release: dict[str, Any]) -> list[str]:
    fields = [release["title"], release["department"], *release["categories"]]
    fields += [release.get("subtitle") or "", release.get("summary") or ""]
    fields += [a["filename"] for a in release["attachments"]]
    fields += [release["url"], *(a["url"] for a in release["attachments"])]
    return [f for f in fields if f]


@pytest.fixture(scope="module")
def settings_(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return mail_settings(tmp_path_factory.mktemp("mail"))


_fuzz = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@_fuzz
@given(release=_release, correction=st.booleans())
def test_a_release_newsletters_text_part(
    settings_: Settings, release: dict[str, Any], correction: bool
) -> None:
    stored = _stored(release)
    kind = "release.updated" if correction else "release.published"
    template = release_newsletter(settings_, kind, {"release": stored}, web_url=WEB_COPY)
    assert_reads_on_its_own(_fill(settings_, template), _verbatim(stored))


@_fuzz
@given(releases=st.lists(_release, min_size=1, max_size=3))
def test_a_digests_text_part(settings_: Settings, releases: list[dict[str, Any]]) -> None:
    stored = [_stored(r, n) for n, r in enumerate(releases, start=7)]
    context = {
        "period_label": period_label("weekly", date(2026, 11, 30)),
        "releases": [release_view(r) for r in stored],
        "web_url": WEB_COPY,
    }
    raw = _fill(settings_, compile_newsletter(settings_, "digest", context))
    assert_reads_on_its_own(raw, [v for r in stored for v in _verbatim(r)])


@_fuzz
@given(
    mode=st.sampled_from(["immediate", "daily", "weekly"]),
    departments=st.lists(_words, max_size=3),
    categories=st.lists(_words, max_size=3),
)
def test_a_welcomes_text_part(
    settings_: Settings, mode: str, departments: list[str], categories: list[str]
) -> None:
    view = welcome_view(mode, departments, categories, 8)
    raw = _fill(settings_, welcome_message(settings_, view, "ko"))
    assert_reads_on_its_own(raw, [", ".join(departments), ", ".join(categories)])


@pytest.mark.parametrize("mail", ["confirm", "already_subscribed", "new_link"])
@pytest.mark.parametrize("language", ["ko", "en"])
def test_the_subscription_mails_text_parts(settings_: Settings, mail: str, language: str) -> None:
    context = {
        "confirm_url": "https://press.example.kr/subscriptions/confirm/a.b?c=1&d=2",
        "valid_hours": 72,
        **links(settings_, 42),
    }
    raw = transactional_message(settings_, mail, context, "resident@example.org", language=language)
    assert_reads_on_its_own(raw, [])
    assert _parse(raw)["Content-Language"] == language

"""IRI encoding, entry construction details and autodiscovery tags."""

from __future__ import annotations

import pytest

from syndicator.events.uris import iri_to_uri, xml_safe
from syndicator.feeds.render.entries import absolute_body, entry_id, rights_text
from syndicator.feeds.render.model import KST, FormatUrls
from syndicator.web.html.discovery import autodiscovery_tags
from tests.unit.feeds.render.support import entry


@pytest.mark.parametrize(
    ("iri", "uri"),
    [
        (
            "https://www.daegu.go.kr/files/보도자료 1.hwp",
            "https://www.daegu.go.kr/files/%EB%B3%B4%EB%8F%84%EC%9E%90%EB%A3%8C%201.hwp",
        ),
        ("https://대구.kr/x?q=한#가", "https://xn--2e0bu9h.kr/x?q=%ED%95%9C#%EA%B0%80"),
        ("https://x.kr/a%2Fb?c=d&e=f", "https://x.kr/a%2Fb?c=d&e=f"),
        ("https://x.kr/100%", "https://x.kr/100%25"),
    ],
)
def test_iri_to_uri(iri: str, uri: str) -> None:
    assert iri_to_uri(iri) == uri
    assert iri_to_uri(uri) == uri  # idempotent


def test_xml_safe_keeps_text_and_drops_what_xml_forbids() -> None:
    assert xml_safe("대구\x00\x0b\x1f\x7f\x85\ufffe시\t\n") == "대구시\t\n"


def test_entry_id_uses_the_kst_year_of_first_publication() -> None:
    from datetime import datetime

    # 2023-12-31 20:00 UTC is already 2024 in Seoul.
    published = datetime.fromisoformat("2023-12-31T20:00:00+00:00")
    assert entry_id("daegu.go.kr", 12, published) == "tag:daegu.go.kr,2024:press/12"


def test_entry_times_are_kst() -> None:
    made = entry(3, published_at="2024-01-01T00:30:00+00:00")
    assert made.published.tzinfo == KST and made.published.hour == 9


def test_rights_text() -> None:
    assert rights_text("KOGL-1") == "공공누리 제1유형: 출처표시"
    assert rights_text("CC-BY-4.0") == "CC-BY-4.0"


def test_absolute_body_resolves_against_the_release_page() -> None:
    body = absolute_body('<p><a href="../x.pdf">x</a></p>', "https://d.kr/news/press/7")
    assert body == '<p><a href="https://d.kr/news/x.pdf">x</a></p>'
    assert absolute_body("", "https://d.kr/") == ""


def test_summary_falls_back_to_body_text() -> None:
    made = entry(3, summary=None, body_html="<p>" + "가" * 300 + "</p>")
    assert made.summary == "가" * 200 + "…"


def test_autodiscovery_tags_are_absolute_and_escaped() -> None:
    urls = FormatUrls(
        atom="https://d.kr/feeds/atom.xml?a=1&b=2",
        rss="https://d.kr/feeds/rss.xml",
        json="https://d.kr/feeds/feed.json",
    )
    html = str(autodiscovery_tags('대구 "보도" <자료>', urls))
    assert html.splitlines() == [
        '<link rel="alternate" type="application/rss+xml" '
        'title="대구 &quot;보도&quot; &lt;자료&gt; (RSS)" href="https://d.kr/feeds/rss.xml">',
        '<link rel="alternate" type="application/atom+xml" '
        'title="대구 &quot;보도&quot; &lt;자료&gt; (Atom)" href="https://d.kr/feeds/atom.xml?a=1&amp;b=2">',
        '<link rel="alternate" type="application/feed+json" '
        'title="대구 &quot;보도&quot; &lt;자료&gt; (JSON Feed)" href="https://d.kr/feeds/feed.json">',
    ]
    with pytest.raises(ValueError):
        autodiscovery_tags("x", FormatUrls(atom="/feeds/atom.xml"))

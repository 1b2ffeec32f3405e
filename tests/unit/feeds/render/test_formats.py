"""RSS and Atom renderers, checked the way readers see them: feedparser and lxml."""

from __future__ import annotations

import locale
import re
from dataclasses import replace
from datetime import datetime, timedelta

import feedgen.entry
import feedgen.feed
import feedgen.util
import feedparser
import pytest
from lxml import etree

from syndicator.feeds.render.entries import entry_from_release, tombstone_from_release
from syndicator.feeds.render.formats import render_atom, render_rss
from syndicator.feeds.render.model import KST, DocumentKind, FormatUrls
from tests.unit.feeds.render.support import BASE, DOMAIN, document, entry, raw_release, release

ATOM = "{http://www.w3.org/2005/Atom}"
AT = "{http://purl.org/atompub/tombstones/1.0}"
FH = "{http://purl.org/syndication/history/1.0}"

TWO_FILES = [
    {
        "filename": "보도자료.hwp",
        "url": "https://www.daegu.go.kr/files/5/보도자료.hwp",
        "size": 48128,
        "media_type": "application/x-hwp",
    },
    {
        "filename": "사진 1.jpg",
        "url": "https://www.daegu.go.kr/files/5/사진 1.jpg",
        "size": 1024,
        "media_type": "image/jpeg",
    },
]


def _day(n: int) -> str:
    return (datetime(2024, 3, 1, 9, 0, tzinfo=KST) + timedelta(days=n)).isoformat()


def _sample() -> tuple:
    return (
        entry(5, published_at=_day(5), attachments=TWO_FILES, categories=["경제", "관광"]),
        entry(4, published_at=_day(4), department="관광과"),
        entry(3, published_at=_day(3), attachments=[]),
    )


def _parsed(data: bytes) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def test_rss_reads_as_rss20_with_korean_text_and_kst_dates() -> None:
    parsed = _parsed(render_rss(document(_sample())))
    assert parsed.version == "rss20"
    assert parsed.feed.title == "대구광역시 보도자료"
    assert parsed.feed.language == "ko"
    first = parsed.entries[0]
    assert first.title == "대구, 이용기술의 챔피언을 찾아라! (5)"
    assert first.id == f"tag:{DOMAIN},2024:press/5"
    assert first.published == "Wed, 06 Mar 2024 09:00:00 +0900"
    assert first.author == "대구광역시 위생정책과"  # dc:creator
    assert first.rights == "공공누리 제1유형: 출처표시"  # dc:rights
    assert [t.term for t in first.tags] == ["경제", "관광"]
    assert first.summary == "대구시가 이용기술 경연대회를 엽니다."
    assert "신청은 위생정책과로." in first.content[0].value  # content:encoded


def test_rss_has_one_enclosure_and_lists_every_attachment_in_the_text() -> None:
    parsed = _parsed(render_rss(document(_sample())))
    first = parsed.entries[0]
    assert first.enclosures == [
        {
            "href": "https://www.daegu.go.kr/files/5/%EB%B3%B4%EB%8F%84%EC%9E%90%EB%A3%8C.hwp",
            "length": "48128",
            "type": "application/x-hwp",
        }
    ]
    html = first.content[0].value
    assert "%EC%82%AC%EC%A7%84%201.jpg" in html and "사진 1.jpg" in html


def test_atom_reads_as_atom10_with_kst_dates_and_ids() -> None:
    parsed = _parsed(render_atom(document(_sample())))
    assert parsed.version == "atom10"
    assert parsed.feed.updated == _day(5)  # newest entry, not the render time
    first = parsed.entries[0]
    assert first.id == f"tag:{DOMAIN},2024:press/5"
    assert first.updated == first.published == _day(5)
    assert first.updated.endswith("+09:00")
    assert first.author == "대구광역시 위생정책과"
    assert first.rights == "공공누리 제1유형: 출처표시"
    assert first.link == "https://www.daegu.go.kr/news/press/5"


def test_atom_enclosures_keep_type_and_length_despite_feedgen_135() -> None:
    data = render_atom(document(_sample()))
    first = _parsed(data).entries[0]
    assert [(e.href, e.type, e.length) for e in first.enclosures] == [
        (
            "https://www.daegu.go.kr/files/5/%EB%B3%B4%EB%8F%84%EC%9E%90%EB%A3%8C.hwp",
            "application/x-hwp",
            "48128",
        ),
        ("https://www.daegu.go.kr/files/5/%EC%82%AC%EC%A7%84%201.jpg", "image/jpeg", "1024"),
    ]
    # And in the XML itself, as rel="enclosure" links in the Atom namespace.
    first_entry = etree.fromstring(data).find(f"{ATOM}entry")
    assert first_entry is not None
    links = first_entry.findall(f"{ATOM}link[@rel='enclosure']")
    assert len(links) == 2 and all(link.get("type") and link.get("length") for link in links)


def test_missing_attachment_size_omits_atom_length_and_says_zero_in_rss() -> None:
    files = [{**TWO_FILES[0], "size": None}]
    doc = document((entry(9, attachments=files),))
    atom_link = etree.fromstring(render_atom(doc)).find(f"{ATOM}entry/{ATOM}link[@rel='enclosure']")
    assert atom_link is not None and "length" not in atom_link.attrib
    assert atom_link.get("type") == "application/x-hwp"
    rss = _parsed(render_rss(doc))
    assert rss.entries[0].enclosures[0]["length"] == "0"


def test_bad_data_still_gives_valid_feeds_with_absolute_links() -> None:
    bad = raw_release(
        7,
        title="제목\x00에 \x0b제어\x1f문자\x7f",
        summary="요약\x08",
        subtitle="부제\x0c목",
        body_html='<p>본문\x01 <a href="/files/7/첨부.hwp">첨부</a> <img src="img/사진.png">'
        '<a href="#top">위로</a> <a href="mailto:press@daegu.go.kr">메일</a></p>',
        department="위생\x02정책과",
        categories=["경\x03제"],
    )
    doc = document((entry_from_release(bad, site_domain=DOMAIN),))
    for data in (render_rss(doc), render_atom(doc)):
        parsed = _parsed(data)
        item = parsed.entries[0]
        assert item.title == "제목에 제어문자"
        html = item.content[0].value
        assert 'href="https://www.daegu.go.kr/files/7/%EC%B2%A8%EB%B6%80.hwp"' in html
        assert 'src="https://www.daegu.go.kr/news/press/img/%EC%82%AC%EC%A7%84.png"' in html
        assert 'href="https://www.daegu.go.kr/news/press/7#top"' in html
        assert 'href="mailto:press@daegu.go.kr"' in html
        assert not re.search(r'(?:href|src)="(?!https://|mailto:)', html)


def test_same_input_same_bytes_and_order_does_not_depend_on_input() -> None:
    entries = _sample()
    forward = document(entries)
    backward = document(tuple(reversed(entries)))
    assert render_rss(forward) == render_rss(backward) == render_rss(document(_sample()))
    assert render_atom(forward) == render_atom(backward)
    ids = [e.id for e in _parsed(render_atom(backward)).entries]
    assert ids == [f"tag:{DOMAIN},2024:press/{n}" for n in (5, 4, 3)]


def test_ids_survive_an_update() -> None:
    before = entry(5, published_at=_day(5))
    after = entry(5, published_at=_day(5), updated_at=_day(40), title="정정된 제목")
    assert before.id == after.id
    parsed = _parsed(render_atom(document((after,))))
    assert parsed.entries[0].id == before.id
    assert parsed.feed.updated == _day(40)


def test_rss_never_touches_the_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """feedgen's RFC 2822 formatter calls setlocale (process-wide, not thread-safe)."""

    def forbidden(*_args: object) -> None:
        raise AssertionError("locale switched during rendering")

    monkeypatch.setattr(locale, "setlocale", forbidden)
    for module in (feedgen.util, feedgen.feed, feedgen.entry):
        monkeypatch.setattr(module, "formatRFC2822", forbidden)
    data = render_rss(document(_sample()))
    assert b"<lastBuildDate>Wed, 06 Mar 2024 09:00:00 +0900</lastBuildDate>" in data


def test_rss_channel_links_self_hub_and_prev_archive() -> None:
    doc = document(
        _sample(),
        hub_url="https://hub.example.kr/",
        prev_archive=f"{BASE}/feeds/archive/2024-02.xml",
    )
    root = etree.fromstring(render_rss(doc))
    channel = root.find("channel")
    assert channel is not None
    assert channel.findtext("link") == f"{BASE}/"  # the HTML page, not the feed
    rels = {link.get("rel"): link.get("href") for link in channel.findall(f"{ATOM}link")}
    assert rels == {
        "self": f"{BASE}/feeds/rss.xml",
        "hub": "https://hub.example.kr/",
        "prev-archive": f"{BASE}/feeds/archive/2024-02.xml",
    }


def test_tombstone_in_atom_names_the_retracted_entry() -> None:
    gone = release(6, published_at=_day(6), retracted_at=datetime(2024, 3, 20, 1, 30, tzinfo=KST))
    stone = tombstone_from_release(gone, site_domain=DOMAIN)
    data = render_atom(document(_sample(), tombstones=(stone,)))
    _parsed(data)
    deleted = etree.fromstring(data).findall(f"{AT}deleted-entry")
    assert [d.get("ref") for d in deleted] == [f"tag:{DOMAIN},2024:press/6"]
    assert deleted[0].get("when") == "2024-03-20T01:30:00+09:00"
    assert "철회" in (deleted[0].findtext(f"{AT}comment") or "")
    # A retraction is a change: the feed's updated moves to it.
    assert etree.fromstring(data).findtext(f"{ATOM}updated") == "2024-03-20T01:30:00+09:00"


def test_archive_document_is_marked_and_linked() -> None:
    archive = document(
        _sample(),
        kind=DocumentKind.ARCHIVE,
        self_urls=FormatUrls(atom=f"{BASE}/feeds/archive/2024-03.xml"),
        prev_archive=f"{BASE}/feeds/archive/2024-02.xml",
        next_archive=f"{BASE}/feeds/archive/2024-04.xml",
        current_url=f"{BASE}/feeds/atom.xml",
    )
    data = render_atom(archive)
    parsed = _parsed(data)
    root = etree.fromstring(data)
    assert root.find(f"{FH}archive") is not None
    rels = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert rels["prev-archive"].endswith("2024-02.xml")
    assert rels["next-archive"].endswith("2024-04.xml")
    assert rels["current"] == f"{BASE}/feeds/atom.xml"
    assert rels["self"] == f"{BASE}/feeds/archive/2024-03.xml"
    assert len(parsed.entries) == 3
    with pytest.raises(ValueError):
        render_rss(archive)


def test_live_document_is_not_an_archive() -> None:
    root = etree.fromstring(render_atom(document(_sample())))
    assert root.find(f"{FH}archive") is None


def test_empty_feed_is_valid_and_stable() -> None:
    empty = document(())
    assert render_atom(empty) == render_atom(replace(empty))
    assert _parsed(render_atom(empty)).version == "atom10"
    assert _parsed(render_rss(empty)).version == "rss20"


def test_feedgen_alone_still_drops_atom_enclosure_attributes() -> None:
    """Canary for feedgen #135: when this fails, upstream is fixed and EntryExtension's
    enclosure writing can go (or it would write each enclosure twice)."""
    fg = feedgen.feed.FeedGenerator()
    fg.id("urn:x")
    fg.title("t")
    fe = fg.add_entry()
    fe.id("urn:y")
    fe.title("t")
    fe.content("c", type="html")
    fe.enclosure("https://example.kr/a.hwp", "10", "application/x-hwp")
    link = etree.fromstring(fg.atom_str()).find(f"{ATOM}entry/{ATOM}link")
    assert link is not None and link.attrib == {"href": "https://example.kr/a.hwp"}


def test_rss_plain_text_never_reaches_a_reader_as_markup() -> None:
    """RSS readers treat <description> as HTML: after one XML decode it must hold escaped
    text, never the markup itself. Titles carry no markup at all: 〈 〉 and one ``&``."""
    script = "<script>alert(1)</script>"
    made = entry(9, title=f"{script} & 대구", summary=f"요약 {script}", department=f"과{script}")
    doc = document((made,), title=f"대구 {script}", description=f"소개 {script}")
    tree = etree.fromstring(render_rss(doc))
    descriptions = [node.text or "" for node in tree.iter("description")]
    assert len(descriptions) == 2  # channel and item
    for text in descriptions:
        assert "<script" not in text and "&lt;script&gt;" in text, text
    titles = [node.text or "" for node in tree.iter("title")]
    assert titles == ["대구 〈script〉alert(1)〈/script〉", "〈script〉alert(1)〈/script〉 & 대구"]
    # HTML readers and plain-text readers show the same characters.
    title = _parsed(render_rss(doc)).entries[0].title_detail
    assert title.type == "text/plain" and title.value == "〈script〉alert(1)〈/script〉 & 대구"


def test_atom_and_json_feed_carry_plain_text_as_text() -> None:
    script = "<script>alert(1)</script>"
    made = entry(9, title=f"{script} & 대구", summary=f"요약 {script}")
    atom = etree.fromstring(render_atom(document((made,))))
    assert atom.findtext(f"{ATOM}entry/{ATOM}title") == f"{script} & 대구"
    title = atom.find(f"{ATOM}entry/{ATOM}title")
    assert title is not None and title.get("type", "text") == "text"

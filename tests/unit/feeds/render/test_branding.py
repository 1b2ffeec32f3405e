"""Feed-level identity: licence, emblem and refresh hint, in every format."""

from __future__ import annotations

import json

import feedparser
from lxml import etree

from syndicator.config import load_settings
from syndicator.feeds.documents import branding
from syndicator.feeds.render.formats import render_atom, render_json, render_rss
from tests.unit.feeds.render.support import BASE, document, entry

SETTINGS = load_settings({"SYNDICATOR_BASE_URL": BASE, "SYNDICATOR_DATA_DIR": "/nonexistent"})
KOGL_1 = "https://www.kogl.or.kr/info/licenseType1.do"


def _branded() -> object:
    return document((entry(5),), branding=branding(SETTINGS))


def test_rss_carries_copyright_image_and_a_ttl_matching_the_cache_lifetime() -> None:
    data = render_rss(_branded())
    parsed = feedparser.parse(data)
    assert not parsed.bozo
    assert parsed.feed.rights == "대구광역시 · 공공누리 제1유형: 출처표시"
    assert parsed.feed.image.href == f"{BASE}/static/emblem-144.png"
    channel = etree.fromstring(data).find("channel")
    assert channel.findtext("ttl") == "5"  # Cache-Control: max-age=300
    image = channel.find("image")
    assert (image.findtext("width"), image.findtext("height")) == ("144", "144")
    assert image.findtext("link") == channel.findtext("link")


def test_atom_carries_rights_icon_logo_and_a_licence_link() -> None:
    parsed = feedparser.parse(render_atom(_branded()))
    assert not parsed.bozo
    assert parsed.feed.rights == "대구광역시 · 공공누리 제1유형: 출처표시"
    assert parsed.feed.icon == f"{BASE}/static/emblem-512.png"
    assert parsed.feed.logo == f"{BASE}/static/logo-288x144.png"
    licence = [link.href for link in parsed.feed.links if link.rel == "license"]
    assert licence == [KOGL_1]
    assert parsed.entries[0].author == "대구광역시 위생정책과"


def test_json_feed_carries_icon_favicon_and_the_licence() -> None:
    feed = json.loads(render_json(_branded()))
    assert feed["icon"] == f"{BASE}/static/emblem-512.png"
    assert feed["favicon"] == f"{BASE}/static/emblem-64.png"
    assert feed["_rights"] == {"license": "대구광역시 · 공공누리 제1유형: 출처표시", "url": KOGL_1}
    assert feed["items"][0]["authors"] == [{"name": "대구광역시 위생정책과"}]


def test_a_configured_emblem_replaces_the_shipped_one_everywhere() -> None:
    own = load_settings(
        {
            "SYNDICATOR_BASE_URL": BASE,
            "SYNDICATOR_DATA_DIR": "/nonexistent",
            "SYNDICATOR_ORG_NAME": "부산광역시",
            "SYNDICATOR_EMBLEM_URL": "https://www.busan.go.kr/emblem.png",
        }
    )
    brand = branding(own)
    assert {brand.icon_url, brand.favicon_url, brand.logo_url, brand.image_url} == {
        "https://www.busan.go.kr/emblem.png"
    }
    assert brand.image_size is None and brand.rights.startswith("부산광역시 · ")

"""The feed routes behind a real uvicorn, exercised with httpx."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import feedparser
import httpx
import pytest

from syndicator.config import Settings
from syndicator.feeds.publish import rebuild_all
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from tests.integration.feeds_support import event, publish, published_at, serving, store

HUB = "https://hub.example.kr/"


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[Settings, Database, httpx.Client]]:
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=sqlite_url,
        redis_url=None,
        base_url="https://press.example.kr",
        cms_secrets=(),
        admin_token=None,
        smtp_url=None,
        websub_hub=HUB,
        feed_size=5,
        feeds_export_dir=tmp_path / "var" / "public" / "feeds",
        document_check_seconds=0,  # every request sees the latest publish
    )
    upgrade(sqlite_url)
    db = Database(sqlite_url)
    store(db, (event(n) for n in range(1, 9)))
    rebuild_all(db, settings)
    with serving(settings) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield settings, db, client
    db.dispose()


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/feeds/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/feeds/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/feeds/feed.json", "application/feed+json"),
        ("/feeds/departments/gwangwanggwa/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/feeds/categories/gyeongje/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/feeds/archive/2024-01.xml", "application/atom+xml; charset=utf-8"),
        ("/feeds/index.json", "application/json"),
    ],
)
def test_documents_are_served_with_their_types(
    site: tuple[Settings, Database, httpx.Client], path: str, content_type: str
) -> None:
    settings, _, client = site
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert (
        response.content == (settings.feeds_export_dir / path.removeprefix("/feeds/")).read_bytes()
    )
    assert response.headers["vary"] == "Accept-Encoding"
    assert "max-age" in response.headers["cache-control"]
    etag = response.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")


def test_feeds_parse_as_served(site: tuple[Settings, Database, httpx.Client]) -> None:
    _, _, client = site
    for path, version in (("/feeds/rss.xml", "rss20"), ("/feeds/atom.xml", "atom10")):
        response = client.get(path)
        parsed = feedparser.parse(
            response.content, response_headers={"content-type": response.headers["content-type"]}
        )
        assert not parsed.bozo and parsed.version == version


def test_link_header_names_the_hub_and_the_document(
    site: tuple[Settings, Database, httpx.Client],
) -> None:
    settings, _, client = site
    response = client.get("/feeds/departments/gwangwanggwa/atom.xml")
    assert response.headers["link"] == (
        f'<{HUB}>; rel="hub", '
        f'<{settings.base_url}/feeds/departments/gwangwanggwa/atom.xml>; rel="self"'
    )
    assert "link" not in client.get("/feeds/index.json").headers


def test_last_modified_is_the_newest_entry(site: tuple[Settings, Database, httpx.Client]) -> None:
    _, _, client = site
    response = client.get("/feeds/atom.xml")
    assert parsedate_to_datetime(response.headers["last-modified"]) == published_at(8)


def test_conditional_requests_get_304_until_a_publish(
    site: tuple[Settings, Database, httpx.Client],
) -> None:
    settings, db, client = site
    first = client.get("/feeds/rss.xml")
    etag, modified = first.headers["etag"], first.headers["last-modified"]

    by_etag = client.get("/feeds/rss.xml", headers={"If-None-Match": etag})
    assert by_etag.status_code == 304 and by_etag.content == b""
    assert by_etag.headers["etag"] == etag
    listed = client.get("/feeds/rss.xml", headers={"If-None-Match": f'"nope", W/{etag}'})
    assert listed.status_code == 304
    by_date = client.get("/feeds/rss.xml", headers={"If-Modified-Since": modified})
    assert by_date.status_code == 304
    older = formatdate(published_at(7).timestamp(), usegmt=True)
    assert client.get("/feeds/rss.xml", headers={"If-Modified-Since": older}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    both = client.get(
        "/feeds/rss.xml", headers={"If-None-Match": '"other"', "If-Modified-Since": modified}
    )
    assert both.status_code == 200

    publish(db, settings, event(9))
    after = client.get("/feeds/rss.xml", headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["etag"] != etag
    assert "대구, 이용기술의 챔피언을 찾아라! (9)" in after.text
    stale_date = client.get("/feeds/rss.xml", headers={"If-Modified-Since": modified})
    assert stale_date.status_code == 200


def test_gzip_when_asked(site: tuple[Settings, Database, httpx.Client]) -> None:
    _, _, client = site
    plain = client.get("/feeds/atom.xml", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    with client.stream("GET", "/feeds/atom.xml", headers={"Accept-Encoding": "gzip"}) as zipped:
        raw = b"".join(zipped.iter_raw())
        headers = zipped.headers
    assert headers["content-encoding"] == "gzip"
    assert int(headers["content-length"]) == len(raw) < len(plain.content)
    assert gzip.decompress(raw) == plain.content
    assert headers["etag"] != plain.headers["etag"]
    again = client.get(
        "/feeds/atom.xml", headers={"Accept-Encoding": "gzip", "If-None-Match": headers["etag"]}
    )
    assert again.status_code == 304
    refused = client.get("/feeds/atom.xml", headers={"Accept-Encoding": "gzip;q=0, br"})
    assert "content-encoding" not in refused.headers


def test_head_has_headers_and_no_body(site: tuple[Settings, Database, httpx.Client]) -> None:
    _, _, client = site
    full = client.get("/feeds/feed.json")
    head = client.head("/feeds/feed.json")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == full.headers["etag"]
    assert client.post("/feeds/feed.json").status_code == 405


def test_a_department_archive_is_served_and_linked_from_its_feed(
    site: tuple[Settings, Database, httpx.Client],
) -> None:
    settings, db, client = site
    publish(db, settings, *(event(n, department="관광과") for n in range(9, 14)))
    live = client.get("/feeds/departments/gwangwanggwa/atom.xml")
    parsed = feedparser.parse(live.content)
    prev = next(link.href for link in parsed.feed.links if link.rel == "prev-archive")
    assert prev == f"{settings.base_url}/feeds/departments/gwangwanggwa/archive/2024-01.xml"
    archive = client.get(prev.removeprefix(settings.base_url))
    assert archive.status_code == 200
    assert archive.headers["content-type"] == "application/atom+xml; charset=utf-8"
    entries = feedparser.parse(archive.content).entries
    assert entries and all(e.author == "대구광역시 관광과" for e in entries)


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/%2e%2e/secret.txt",
        "/feeds/..%2fsecret.txt",
        "/feeds/departments/%2e%2e/%2e%2e/secret.txt",
        "/feeds/departments/..%2f..%2fsecret.txt/rss.xml",
        "/feeds/.lock",
        "/feeds/archive/2024-13.xml",
        "/feeds/departments/nope/rss.xml",
        "/feeds/rss.xml.tmp",
        "/feeds/archive/",
        "/feeds/departments/gwangwanggwa/archive/rss.xml",
        "/feeds/departments/gwangwanggwa/archive/2024-01.json",
        "/feeds//etc/passwd",
    ],
)
def test_unknown_and_escaping_paths_are_404(
    site: tuple[Settings, Database, httpx.Client], path: str
) -> None:
    settings, _, client = site
    (settings.feeds_export_dir.parent / "secret.txt").write_text("secret")
    response = client.get(path)
    assert response.status_code == 404
    assert "secret" not in response.text


def test_feeds_index_page_lists_every_feed_in_korean(
    site: tuple[Settings, Database, httpx.Client],
) -> None:
    settings, _, client = site
    page = client.get("/feeds/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    html = page.text
    assert "부서별 피드" in html and "분야별 피드" in html
    assert "위생정책과" in html and "교통정책과" in html and "복지" in html
    assert (
        f'<link rel="alternate" type="application/rss+xml" title="{settings.site_title} (RSS)" '
        f'href="{settings.base_url}/feeds/rss.xml">'
    ) in html
    assert f'href="{settings.base_url}/feeds/departments/gwangwanggwa/atom.xml"' in html
    assert client.get("/feeds/", headers={"If-None-Match": page.headers["etag"]}).status_code == 304

    index = client.get("/feeds/index.json").json()
    assert {d["name"] for d in index["departments"]} == {"위생정책과", "관광과", "교통정책과"}
    for scope in index["departments"] + index["categories"]:
        for key in ("rss", "atom", "json"):
            assert client.get(scope[key].removeprefix(settings.base_url)).status_code == 200
    assert index["archive"] == f"{settings.base_url}/feeds/archive/2024-01.xml"


def test_index_page_before_anything_was_published(tmp_path: Path, sqlite_url: str) -> None:
    upgrade(sqlite_url)
    settings = Settings(
        data_dir=tmp_path,
        database_url=sqlite_url,
        redis_url=None,
        base_url="https://press.example.kr",
        cms_secrets=(),
        admin_token=None,
        smtp_url=None,
        document_check_seconds=0,
    )
    with serving(settings) as url:
        page = httpx.get(f"{url}/feeds/", timeout=30)
        assert page.status_code == 200 and "아직 피드가 없습니다." in page.text
        assert httpx.get(f"{url}/feeds/rss.xml", timeout=30).status_code == 404


def test_index_json_is_well_formed(site: tuple[Settings, Database, httpx.Client]) -> None:
    settings, _, _ = site
    index = json.loads((settings.feeds_export_dir / "index.json").read_bytes())
    assert index["site"]["atom"] == f"{settings.base_url}/feeds/atom.xml"

"""The residents' board, scope boards and release pages over real HTTP."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import text

from syndicator.config import Settings
from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import store_event
from syndicator.store.board import PAGE_SIZE
from syndicator.store.db import Database
from syndicator.web.site_headers import CONTENT_SECURITY_POLICY
from tests.factories import make_event


def _publish(db: Database, release_id: int, type: str = "release.published", **fields) -> None:
    with db.session() as session:
        store_event(
            session,
            CmsEvent.model_validate(make_event(release_id, type=type, **fields)),
            webhook_id=f"msg_{release_id}_{type}",
            source="hook",
            enqueue=False,
        )


def _slug(db: Database, kind: str, name: str) -> str:
    with db.session() as session:
        return session.execute(
            text("SELECT slug FROM taxa WHERE kind = :k AND name = :n"), {"k": kind, "n": name}
        ).scalar_one()


def _titles(html: str) -> list[str]:
    return re.findall(r'<td class="col-title"><a href="[^"]+">([^<]+)</a>', html)


@pytest.fixture
def board(client: httpx.Client, store: Database) -> tuple[httpx.Client, Database]:
    for n in range(1, 2 * PAGE_SIZE + 4):
        _publish(
            store,
            n,
            title=f"보도 {n}호 교통 안내" if n % 3 == 0 else f"보도 {n}호 청년 소식",
            department="교통정책과" if n % 2 else "위생정책과",
            categories=["교통"] if n % 3 == 0 else ["경제"],
            published_at=f"2022-10-{(n % 28) + 1:02d}T{n % 24:02d}:00:00+09:00",
            attachments=[] if n % 5 == 0 else make_event(1)["release"]["attachments"],
        )
    return client, store


def test_board_is_numbered_newest_first_with_attachment_marks(board):
    client, _ = board
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["cache-control"] == "public, max-age=60"
    html = page.text
    total = 2 * PAGE_SIZE + 3
    for heading in ("번호", "제목", "날짜", "첨부", "부서"):
        assert f">{heading}</th>" in html
    numbers = [int(n) for n in re.findall(r'<td class="col-number">(\d+)</td>', html)]
    assert numbers == list(range(total, total - PAGE_SIZE, -1))
    assert "첨부파일 1개" in html
    assert 'aria-current="page">1</a>' in html
    assert '<a href="/?page=3">' in html
    third = client.get("/?page=3").text
    assert [int(n) for n in re.findall(r'<td class="col-number">(\d+)</td>', third)] == [3, 2, 1]
    assert "<script>" not in html and "style=" not in html


def test_filters_scope_boards_and_search(board):
    client, store = board
    department = _slug(store, "department", "위생정책과")
    category = _slug(store, "category", "교통")
    by_department = client.get("/", params={"department": department}).text
    assert by_department.count('<td class="col-department">위생정책과</td>') == PAGE_SIZE
    assert "교통정책과</td>" not in by_department
    scoped = client.get(f"/departments/{department}").text
    assert "<h1>위생정책과 보도자료</h1>" in scoped
    assert f'href="https://press.example.kr/feeds/departments/{department}/rss.xml"' in scoped
    assert scoped.count('rel="alternate"') == 6
    by_category = client.get(f"/categories/{category}").text
    assert all("교통 안내" in t for t in _titles(by_category))
    found = client.get("/", params={"q": "청년", "department": department}).text
    assert _titles(found) and all("청년" in t for t in _titles(found))
    assert "교통정책과</td>" not in found
    assert "검색 결과가 없습니다" in client.get("/", params={"q": "없는낱말"}).text


def test_old_slugs_redirect_for_good(board):
    client, store = board
    with store.session() as session:
        session.execute(
            text(
                "INSERT INTO taxon_aliases (kind, slug, taxon_id) SELECT kind, 'old-name', id"
                " FROM taxa WHERE kind = 'department' AND name = '위생정책과'"
            )
        )
    answer = client.get("/departments/old-name?page=2")
    assert answer.status_code == 301
    department = _slug(store, "department", "위생정책과")
    assert answer.headers["location"] == f"https://press.example.kr/departments/{department}?page=2"
    assert client.get("/departments/nowhere").status_code == 404
    assert client.get("/categories/nowhere").status_code == 404


def test_release_page_shows_everything_a_resident_needs(board):
    client, _ = board
    html = client.get("/releases/4").text
    assert "<h1>보도 4호 청년 소식</h1>" in html
    assert "위생정책과" in html and "김길동" in html and "053-803-0000" in html
    assert "(한국 시간)" in html and "2022년 10월 05일 04:00" in html
    assert "대구시는 이용기술의 챔피언을 찾습니다." in html
    assert '보도자료.hwp</a> <span class="size">(47KB)</span>' in html
    assert "공공누리 제1유형" in html and 'rel="license"' in html
    assert 'href="https://www.daegu.go.kr/news/press/4"' in html
    assert client.get("/releases/999999").status_code == 404


def test_a_retracted_release_shows_a_notice_instead_of_its_body(board):
    client, store = board
    _publish(
        store,
        4,
        type="release.retracted",
        updated_at="2022-11-01T09:00:00+09:00",
        published_at="2022-10-05T04:00:00+09:00",
    )
    html = client.get("/releases/4").text
    assert "철회된 보도자료입니다" in html
    assert "이용기술의 챔피언을 찾습니다" not in html
    assert "보도 4호" not in client.get("/", params={"department": ""}).text.split("<tbody>")[1]


def test_feed_lists_per_kind(board, app_settings: Settings):
    from syndicator.feeds.publish import rebuild_all

    client, store = board
    rebuild_all(store, app_settings)
    departments = client.get("/feeds/departments/")
    assert departments.status_code == 200
    assert (
        "<h1>부서별 피드</h1>" in departments.text
        and "분야별 피드</a></h2>" not in departments.text
    )
    assert "위생정책과" in departments.text
    categories = client.get("/feeds/categories/").text
    assert "<h1>분야별 피드</h1>" in categories and "교통" in categories


def _csrf(client: httpx.Client) -> str:
    form = client.get("/subscribe")
    assert form.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)


def test_subscribe_form_explains_mistakes_in_korean_next_to_the_field(board):
    client, _ = board
    token = _csrf(client)
    answer = client.post(
        "/subscribe",
        data={
            "csrf_token": token,
            "email": "not-an-address",
            "mode": "hourly",
            "departments": ["없는 부서"],
        },
    )
    assert answer.status_code == 422
    html = answer.text
    assert 'id="email-error"' in html and "이메일 주소 형식이 올바르지 않습니다" in html
    assert 'aria-invalid="true" aria-describedby="email-error email-hint"' in html
    assert "즉시, 매일, 매주" in html and "목록에 있는 부서만" in html
    assert 'value="not-an-address"' in html
    empty = client.post("/subscribe", data={"csrf_token": token, "email": "", "mode": "daily"})
    assert "이메일 주소를 입력해 주세요." in empty.text


def test_subscribe_form_needs_its_token_and_this_site(board):
    client, _ = board
    fields = {"email": "resident@example.org", "mode": "daily"}
    assert client.post("/subscribe", data=fields).status_code == 403
    token = _csrf(client)
    cross = client.post(
        "/subscribe", data={**fields, "csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 403
    with httpx.Client(base_url=str(client.base_url), timeout=30) as other:  # no cookie
        assert other.post("/subscribe", data={**fields, "csrf_token": token}).status_code == 403


def test_subscribe_form_leads_to_check_your_mail(board):
    client, store = board
    token = _csrf(client)
    answer = client.post(
        "/subscribe",
        data={
            "csrf_token": token,
            "email": "Resident@Example.org",
            "mode": "weekly",
            "departments": ["위생정책과"],
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/subscribe/sent"
    sent = client.get("/subscribe/sent")
    assert "<h1>메일을 확인해 주세요</h1>" in sent.text
    with store.session() as session:
        row = session.execute(text("SELECT email, mode, status FROM subscribers")).one()
    assert tuple(row) == ("Resident@example.org", "weekly", "pending")


def test_token_forms_refuse_other_sites_but_one_click_stays_token_only(board):
    client, _ = board
    answer = client.post("/preferences/whatever", headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    answer = client.post("/subscriptions/confirm/x", headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403
    one_click = client.post(
        "/unsubscribe/x",
        headers={"Sec-Fetch-Site": "cross-site"},
        content="List-Unsubscribe=One-Click",
    )
    assert one_click.status_code == 400  # the token decides, not the origin


def test_mistyped_addresses_get_korean_pages_not_json(board):
    client, _ = board
    for path in ("/?page=abc", "/?page=0", "/?page=99", "/releases/abc", "/releases/-1"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html"), path
        assert "찾을 수 없습니다" in answer.text


def test_every_get_page_answers_head_alike_without_a_body(board):
    client, store = board
    department = _slug(store, "department", "교통정책과")
    paths = [
        "/",
        "/?page=2",
        f"/departments/{department}",
        "/releases/3",
        "/releases/999999",  # 404s too
        "/subscribe",
        "/feeds/rss.xml",
        "/feeds/atom.xml",
        "/static/site.css",
        "/healthz",
        "/openapi.json",
        "/no-such-page",
    ]
    for path in paths:
        got = client.get(path)
        head = client.head(path)
        assert head.status_code == got.status_code, path
        assert head.content == b"", path
        assert head.headers.get("content-type") == got.headers.get("content-type"), path
        if "content-length" in got.headers:
            assert head.headers["content-length"] == got.headers["content-length"], path

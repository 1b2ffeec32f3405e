"""Search finds two-syllable Korean words and parts of words, ranked, on both databases."""

from __future__ import annotations

import random

from sqlalchemy import text

from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import store_event
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.search import search_page
from tests.factories import make_event


def _publish(db: Database, release_id: int, type: str = "release.published", **fields) -> None:
    with db.session() as session:
        store_event(
            session,
            CmsEvent.model_validate(make_event(release_id, type=type, **fields)),
            webhook_id=f"msg_{release_id}_{type}_{fields.get('updated_at', '')}",
            source="hook",
            enqueue=False,
        )


def _search(db: Database, query: str, **scope) -> list[int]:
    scope.setdefault("department_slug", None)
    scope.setdefault("category_slug", None)
    with db.session() as session:
        ids, total = search_page(session, query, limit=20, offset=0, **scope)
    assert total == len(ids)
    return ids


def test_two_syllable_words_and_parts_of_words_are_found(db: Database):
    _publish(db, 1, title="흰지팡이의 날 기념식", body_html="<p>시각장애인 보행 안전</p>")
    _publish(db, 2, title="청년 일자리 박람회", body_html="<p>교통 편의를 위해 셔틀을 운영</p>")
    _publish(db, 3, title="교통 정책 설명회", body_html="<p>교통 혼잡 해소, 교통 안전</p>")
    assert _search(db, "지팡") == [1]
    assert _search(db, "청년") == [2]
    # The title weighs more than the body.
    assert _search(db, "교통") == [3, 2]
    assert _search(db, "교통 셔틀") == [2]
    assert _search(db, "없는말") == []
    assert _search(db, "   ") == []


def test_updates_retractions_and_filters_are_respected(db: Database):
    _publish(db, 1, title="복지 안내", department="복지정책관")
    _publish(db, 2, title="복지 시설 점검", department="위생정책과")
    assert set(_search(db, "복지")) == {1, 2}
    with db.session() as session:
        slug = session.execute(text("SELECT slug FROM taxa WHERE name = '위생정책과'")).scalar_one()
    assert _search(db, "복지", department_slug=slug) == [2]
    _publish(
        db,
        2,
        title="위생 점검",
        updated_at="2022-10-24T09:00:00+09:00",
        published_at="2022-10-23T09:00:00+09:00",
    )
    assert _search(db, "복지") == [1]
    _publish(
        db,
        1,
        type="release.retracted",
        title="복지 안내",
        department="복지정책관",
        updated_at="2022-10-25T09:00:00+09:00",
        published_at="2022-10-23T09:00:00+09:00",
    )
    assert _search(db, "복지") == []


def test_the_migration_indexes_releases_stored_before_it(database_url: str):
    upgrade(database_url, "0007")
    with Database(database_url) as db:
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO releases (id, title, subtitle, summary, body_html, department,"
                " department_slug, contact, categories, url, published_at, updated_at,"
                " attachments, license, views, retracted_at, last_event_id) VALUES"
                " (7, '대중교통 요금 안내', NULL, NULL, '<p>버스</p>', '교통국', 'gyotongguk',"
                " NULL, '[]', 'https://x.kr/7', '2022-10-23 00:00:00', '2022-10-23 00:00:00',"
                " '[]', 'KOGL-1', NULL, NULL, 'evt_7')"
            )
        upgrade(database_url)
        assert _search(db, "교통") == [7]
        assert _search(db, "버스") == [7]


def test_a_huge_body_of_varied_hangul_is_still_stored_and_found(db: Database):
    """More distinct bigrams than a PostgreSQL tsvector can hold: the release is stored,
    and its title and first words are found."""
    rng = random.Random(12)
    syllables = [chr(0xAC00 + rng.randrange(11172)) for _ in range(200_000)]
    body = "<p>청년 정책 " + "".join(syllables) + "</p>"
    _publish(db, 1, title="긴 보도자료", body_html=body)
    assert _search(db, "보도") == [1]
    assert _search(db, "청년") == [1]

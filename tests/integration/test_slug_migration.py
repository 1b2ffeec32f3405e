"""Migration 0006: slugs move to the Revised Romanization and the old URLs redirect."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import sqlalchemy as sa

from syndicator.config import Settings
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import (
    PublishedDocument,
    Release,
    ReleaseCategory,
    Taxon,
    TaxonAlias,
)
from syndicator.store.taxonomy import slug_for
from syndicator.web.app import create_app
from tests.live_server import serve

WHEN = datetime(2022, 10, 5, 9, 0, tzinfo=UTC)
# What python-slugify made of these names before (letter by letter).
OLD = {
    ("department", "위생정책과"): "wisaengjeongcaeggwa",
    ("department", "의료산업과"): "yiryosaneobgwa",
    ("category", "복지"): "bogji",
    ("category", "경제"): "gyeongje",  # the same either way: no alias
}


def _seed_before_0006(url: str) -> None:
    upgrade(url, "0005")
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        for (kind, name), slug in OLD.items():
            conn.execute(sa.insert(Taxon.__table__).values(kind=kind, name=name, slug=slug))
        conn.execute(
            sa.insert(Release.__table__).values(
                id=867,
                title="위생 점검",
                body_html="<p>본문</p>",
                department="위생정책과",
                department_slug="wisaengjeongcaeggwa",
                categories=["복지"],
                url="https://www.daegu.go.kr/867",
                published_at=WHEN,
                updated_at=WHEN,
                attachments=[],
                license="KOGL-1",
                last_event_id="evt_1",
            )
        )
        conn.execute(
            sa.insert(ReleaseCategory.__table__).values(
                release_id=867, slug="bogji", published_at=WHEN
            )
        )
        for path in (
            "departments/wisaengjeongcaeggwa/rss.xml",
            "departments/wisaengjeongcaeggwa/archive/2022-10.xml",
            "categories/bogji/feed.json",
        ):
            conn.execute(
                sa.insert(PublishedDocument.__table__).values(
                    path=path, body=path.encode(), etag="e", last_modified=WHEN, version=1
                )
            )
    engine.dispose()


def test_slugs_move_and_every_old_url_answers_301(settings: Settings, redis_url: str) -> None:
    _seed_before_0006(settings.database_url)
    upgrade(settings.database_url)
    with Database(settings.database_url) as db, db.session() as session:
        slugs = {(t.kind, t.name): t.slug for t in session.scalars(sa.select(Taxon))}
        assert slugs == {
            ("department", "위생정책과"): "wisaengjeongchaekgwa",
            ("department", "의료산업과"): "uiryosaneopgwa",
            ("category", "복지"): "bokji",
            ("category", "경제"): "gyeongje",
        }
        aliases = {(a.kind, a.slug) for a in session.scalars(sa.select(TaxonAlias))}
        assert aliases == {
            ("department", "wisaengjeongcaeggwa"),
            ("department", "yiryosaneobgwa"),
            ("category", "bogji"),
        }
        assert session.get(Release, 867).department_slug == "wisaengjeongchaekgwa"
        assert session.scalars(sa.select(ReleaseCategory.slug)).all() == ["bokji"]
        query = sa.select(PublishedDocument.path, PublishedDocument.version)
        paths = {path: version for path, version in session.execute(query)}
        assert paths == {
            "departments/wisaengjeongchaekgwa/rss.xml": 2,
            "departments/wisaengjeongchaekgwa/archive/2022-10.xml": 2,
            "categories/bokji/feed.json": 2,
        }
        # A new name never takes an old slug, which keeps redirecting.
        assert slug_for(session, "category", "bogji") != "bogji"

    app = create_app(settings.with_(redis_url=redis_url))
    with serve(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        for old, new in (
            ("departments/wisaengjeongcaeggwa/rss.xml", "departments/wisaengjeongchaekgwa/rss.xml"),
            (
                "departments/wisaengjeongcaeggwa/archive/2022-10.xml",
                "departments/wisaengjeongchaekgwa/archive/2022-10.xml",
            ),
            ("categories/bogji/feed.json", "categories/bokji/feed.json"),
        ):
            moved = http.get(f"/feeds/{old}")
            assert moved.status_code == 301, old
            assert moved.headers["location"] == f"{settings.base_url}/feeds/{new}"
            assert http.get(f"/feeds/{new}").content == old.encode()  # the bytes moved
        assert http.get("/feeds/departments/nowhere/rss.xml").status_code == 404
        # An old slug with a document it never had is still only a redirect away from a 404.
        assert http.get("/feeds/categories/bogji/rss.xml").status_code == 301

"""Web copy ids: stable for the same content, apart for other content, not derivable
without the key; a copy is stored once."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select

from syndicator.mail.web_copies import copy_id, digest_copy, release_copy, store_copy
from syndicator.store.db import Database
from syndicator.store.models import NewsletterCopy
from tests.unit.mail.support import mail_settings

RELEASE = {"id": 7, "title": "제목", "department": "위생정책과", "url": "https://x.kr/7"}


def test_ids_are_stable_url_safe_and_keyed(tmp_path: Path) -> None:
    settings = mail_settings(tmp_path)
    other_key = mail_settings(tmp_path, SYNDICATOR_TOKEN_KEYS="another-key")
    first = copy_id(settings, "release:evt_1")
    assert first == copy_id(settings, "release:evt_1")
    assert re.fullmatch(r"[A-Za-z0-9_-]{20}", first)
    assert first != copy_id(settings, "release:evt_2")
    assert first != copy_id(other_key, "release:evt_1"), "not computable without the key"


def test_a_digest_is_keyed_by_its_run_and_items_not_its_reader(tmp_path: Path) -> None:
    one = digest_copy("digest-daily-20261207", "daily", "2026-12-07", [3, 5], [RELEASE])
    same = digest_copy("digest-daily-20261207", "daily", "2026-12-07", [3, 5], [RELEASE])
    fewer = digest_copy("digest-daily-20261207", "daily", "2026-12-07", [5], [RELEASE])
    assert one.key == same.key != fewer.key
    assert set(one.content) == {"mode", "period", "releases"}


def test_a_copy_keeps_what_the_message_shows_not_the_body() -> None:
    release = {**RELEASE, "body_html": "<p>본문</p>" * 1000, "contact": {"name": "김길동"}}
    (kept,) = release_copy("evt_1", "release.published", release).content["releases"]
    assert kept == RELEASE


def test_a_copy_is_stored_once(tmp_path: Path, db: Database) -> None:
    settings = mail_settings(tmp_path)
    copy = release_copy("evt_1", "release.updated", RELEASE)
    url = store_copy(settings, db, copy)
    assert store_copy(settings, db, copy) == url
    assert url == f"https://press.example.kr/newsletters/{copy_id(settings, 'release:evt_1')}"
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(NewsletterCopy)) == 1
        row = session.get(NewsletterCopy, url.rsplit("/", 1)[1])
        assert row is not None and row.content == {"correction": True, "releases": [RELEASE]}

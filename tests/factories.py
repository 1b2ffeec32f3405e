"""Valid CMS events with Korean text, built from the demo data's shape."""

from __future__ import annotations

import copy
from typing import Any

_BASE: dict[str, Any] = {
    "type": "release.published",
    "release": {
        "id": 867,
        "title": "대구, 이용기술의 챔피언을 찾아라!",
        "subtitle": None,
        "summary": "대구시가 이용기술 경연대회를 엽니다.",
        "body_html": "<p>대구시는 이용기술의 챔피언을 찾습니다.</p><p>신청은 위생정책과로.</p>",
        "department": "위생정책과",
        "contact": {"name": "김길동", "phone": "053-803-0000"},
        "categories": ["경제", "보건"],
        "url": "https://www.daegu.go.kr/news/press/867",
        "published_at": "2022-10-23T09:00:00+09:00",
        "updated_at": "2022-10-23T09:00:00+09:00",
        "attachments": [
            {
                "filename": "보도자료.hwp",
                "url": "https://www.daegu.go.kr/files/867/보도자료.hwp",
                "size": 48128,
                "media_type": "application/x-hwp",
            }
        ],
        "license": "KOGL-1",
        "views": 107,
    },
}


def make_event(release_id: int, type: str = "release.published", **release: Any) -> dict:
    """An event for ``release_id``; keyword arguments replace release fields."""
    event = copy.deepcopy(_BASE)
    event["type"] = type
    body = event["release"]
    body["id"] = release_id
    body["url"] = f"https://www.daegu.go.kr/news/press/{release_id}"
    body["title"] = f"{body['title']} ({release_id})" if release_id != 867 else body["title"]
    body.update(release)
    if "published_at" in release and "updated_at" not in release:
        body["updated_at"] = release["published_at"]
    return event

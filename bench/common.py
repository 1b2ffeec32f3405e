"""Synthetic releases and small helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from syndicator.events.schema import CmsEvent

KST = ZoneInfo("Asia/Seoul")
DEPARTMENTS = (
    "일자리노동정책과",
    "관광과",
    "문화예술정책과",
    "보건건강과",
    "교통정책과",
    "투자유치과",
    "시민안전실",
    "여성가족청소년정책관",
)
CATEGORIES = ("경제", "문화", "복지", "안전", "관광", "보건", "교통", "환경", "행정")
# The city publishes a few releases a day: about 100 a month.
PER_MONTH = 100
ORIGIN = datetime(2015, 1, 1, 9, 0, tzinfo=KST)
STEP = timedelta(days=30) / PER_MONTH


def synthetic_event(release_id: int, published_at: datetime, n: int = 0) -> CmsEvent:
    """One release.published event; ``n`` picks the department and category round-robin."""
    when = published_at.isoformat()
    return CmsEvent.model_validate(
        {
            "type": "release.published",
            "release": {
                "id": release_id,
                "title": f"대구시 보도자료 {release_id}호: 시민 생활 안내",
                "summary": "대구광역시가 시민 여러분께 알려 드립니다.",
                "body_html": "<p>대구광역시는 "
                + "시민과 함께하는 정책을 추진합니다. " * 20
                + "</p>",
                "department": DEPARTMENTS[n % len(DEPARTMENTS)],
                "contact": {"name": "홍길동", "phone": "053-803-0000"},
                "categories": [CATEGORIES[n % len(CATEGORIES)]],
                "url": f"https://www.daegu.go.kr/news/press/{release_id}",
                "published_at": when,
                "updated_at": when,
                "attachments": [
                    {
                        "filename": f"{release_id}_보도자료.hwp",
                        "url": f"https://www.daegu.go.kr/files/{release_id}.hwp",
                        "size": 40960,
                        "media_type": "application/x-hwp",
                    }
                ],
                "license": "KOGL-1",
            },
        }
    )


def synthetic_events(count: int, start_id: int = 1) -> Iterator[CmsEvent]:
    """``count`` releases from January 2015 on, PER_MONTH a month, oldest first."""
    for n in range(count):
        yield synthetic_event(start_id + n, ORIGIN + STEP * n, n)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(pct) - 1]


def verdict(ratio: float, ceiling: float) -> str:
    return "PASS" if ratio <= ceiling else "FAIL"

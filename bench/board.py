"""The residents' board with 10,000 releases: page 400 against page 1, in one run.

A page's ids come from a covering index and only its rows are loaded, so page 400 (which
skips 5,985 index keys) should cost about what page 1 does. Each round fetches both pages
through the whole app in-process (routing, queries, template, headers; no network), the
two alternating so drift hits both alike. The ceiling is page 1's median × 1.5. A search
for a two-syllable word over the 10,000 is reported for information.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

from bench.common import synthetic_events, timed, verdict
from syndicator.config import load_settings
from syndicator.intake.accept import import_events
from syndicator.store.board import PAGE_SIZE
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.web.app import create_app

RELEASES = 10_000
FAR_PAGE = 400
REPEATS = 40
CEILING = 1.5


def _get(client: TestClient, path: str) -> None:
    answer = client.get(path)
    if answer.status_code != 200 or "/releases/" not in answer.text:
        raise AssertionError(f"{path} answered {answer.status_code}")


def main() -> bool:
    assert FAR_PAGE * PAGE_SIZE <= RELEASES, "page 400 must exist"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'board.db'}"
        upgrade(url)
        with Database(url) as db:
            print(f"storing {RELEASES:,} releases…", flush=True)
            import_events(db, synthetic_events(RELEASES))
        settings = load_settings(
            {
                "SYNDICATOR_DATA_DIR": tmp,
                "SYNDICATOR_DATABASE_URL": url,
                "SYNDICATOR_BASE_URL": "https://press.example.kr",
            }
        )
        with TestClient(create_app(settings)) as client:
            first, far = "/", f"/?page={FAR_PAGE}"
            for path in (first, far, "/?q=시민"):
                _get(client, path)  # warm: templates compiled, caches filled
            page_1: list[float] = []
            page_far: list[float] = []
            for _ in range(REPEATS):
                page_1.append(timed(lambda: _get(client, first)))
                page_far.append(timed(lambda: _get(client, far)))
            search = [timed(lambda: _get(client, "/?q=시민")) for _ in range(10)]
    one, other = statistics.median(page_1), statistics.median(page_far)
    ratio = other / one
    print(f"page 1:           {one * 1000:7.2f} ms (median of {REPEATS})")
    print(f"page {FAR_PAGE}:         {other * 1000:7.2f} ms (median of {REPEATS})")
    print(f"search '시민':    {statistics.median(search) * 1000:7.2f} ms (all {RELEASES:,} match)")
    print(
        f"ratio page {FAR_PAGE} / page 1: {ratio:.2f} (ceiling {CEILING}) {verdict(ratio, CEILING)}"
    )
    return ratio <= CEILING

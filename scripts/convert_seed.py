#!/usr/bin/env python3
"""One-off converter: Daegu 보도자료 seed text -> demo CMS events.

Reads the seed document (one full press release followed by a board listing
``번호 제목 날짜 조회 수``) and writes one ``release.published`` event per release
to ``OUT_DIR/NNN.json``.

This script was run once; its output is committed under ``demo/releases/``.
It uses only the standard library and is deterministic: re-running it on the
same seed produces byte-identical files.

What comes from the seed (kept verbatim, NFC):
  * titles, listing numbers (-> ids), dates, view counts, the "file" marker;
  * the full release's title, subtitle lines and body paragraphs.

What is ILLUSTRATIVE (invented here, not in the seed) -- see ASSIGNMENTS,
DEPARTMENT_CONTACTS and the helper functions below:
  * department, categories, contact, summary, listing body_html,
  * url, attachment filename/url/size, the minutes of published_at,
  * the full release's id (700), published_at and views.

Usage:
    python scripts/convert_seed.py /work/shared/seed/daegu-press-board.txt demo/releases
    python scripts/convert_seed.py --check demo/releases
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import re
import sys
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path

KST = timezone(timedelta(hours=9), "KST")

BASE_URL = "https://www.daegu.go.kr"
LICENSE = "KOGL-1"  # 공공누리 제1유형 (출처표시)
HWP_MEDIA_TYPE = "application/x-hwp"

# Small fixed category vocabulary used by the demo data.
CATEGORIES = frozenset(
    {"경제", "일자리", "문화", "복지", "안전", "관광", "보건", "교통", "환경", "행정"}
)

# ---------------------------------------------------------------------------
# ILLUSTRATIVE assignments. The board listing carries no department/category;
# these were chosen by hand from the topic of each title. They are demo data,
# not facts about the real releases.
# ---------------------------------------------------------------------------
ASSIGNMENTS: dict[int, tuple[str, list[str]]] = {
    # id: (department, categories)
    867: ("위생정책과", ["경제"]),  # 이용기술 챔피언 (이용업 기능경연)
    866: ("관광과", ["관광", "복지"]),  # 무장애관광 여행상품
    865: ("여성가족청소년정책관", ["안전", "복지"]),  # 여성 안심 골목길
    864: ("문화예술정책과", ["문화", "일자리"]),  # 청년 문화예술 프리랜서
    863: ("장애인복지과", ["복지"]),  # 흰지팡이의 날
    862: ("기후대기과", ["환경"]),  # 친환경 보일러 보조금
    861: ("의료산업과", ["보건", "경제"]),  # 케이메디허브 위탁교육
    860: ("일자리노동정책과", ["일자리", "환경"]),  # 금호강 노사 걷기 행사
    859: ("시민안전실", ["안전"]),  # 119시민안전봉사단
    858: ("문화예술정책과", ["문화"]),  # 자매도시 문화예술교류 展
    857: ("보건건강과", ["보건"]),  # 당 줄이기 사업
    856: ("농산유통과", ["경제"]),  # 국제식품산업전
    855: ("투자유치과", ["경제", "일자리"]),  # 전기차 소재 투자협약
    854: ("의료산업과", ["보건", "경제"]),  # 신약개발 연구회
    853: ("문화예술정책과", ["문화"]),  # 오페라하우스 창작오페라
    852: ("체육진흥과", ["문화"]),  # 시설공단 사격팀
    851: ("문화예술정책과", ["문화"]),  # 문화예술회관 <백조의 호수>
    850: ("감염병관리과", ["보건", "안전"]),  # 실외 마스크 자율 전환
    849: ("교통정책과", ["교통"]),  # 첨단교통정보 서비스
    848: ("자연재난과", ["환경", "안전"]),  # 운문댐 저수율 회복
}

# ILLUSTRATIVE contacts: placeholder names (홍길동 variants) and 053-803-xxxx
# numbers in the style of Daegu city hall. Not real people or numbers.
DEPARTMENT_CONTACTS: dict[str, tuple[str, str]] = {
    "일자리노동정책과": ("홍길동", "053-803-3201"),
    "위생정책과": ("김길동", "053-803-4231"),
    "관광과": ("이길동", "053-803-3891"),
    "여성가족청소년정책관": ("박길동", "053-803-6101"),
    "문화예술정책과": ("최길동", "053-803-3711"),
    "장애인복지과": ("정길동", "053-803-6481"),
    "기후대기과": ("강길동", "053-803-4181"),
    "의료산업과": ("조길동", "053-803-3671"),
    "시민안전실": ("윤길동", "053-803-4411"),
    "보건건강과": ("장길동", "053-803-4281"),
    "농산유통과": ("임길동", "053-803-3921"),
    "투자유치과": ("한길동", "053-803-3311"),
    "체육진흥과": ("오길동", "053-803-3791"),
    "감염병관리과": ("서길동", "053-803-4251"),
    "교통정책과": ("신길동", "053-803-4811"),
    "자연재난과": ("권길동", "053-803-4361"),
}

# The full release in the seed has no number, date or view count.
# ILLUSTRATIVE values for it:
FULL_RELEASE_ID = 700
FULL_RELEASE_PUBLISHED_AT = datetime(2020, 12, 29, 15, 0, tzinfo=KST)
FULL_RELEASE_DEPARTMENT = "일자리노동정책과"
FULL_RELEASE_CATEGORIES = ["경제", "일자리"]
FULL_RELEASE_VIEWS = 0  # unknown; the seed has no view count for this release

# Releases on the same day get 09:00, 09:10, 09:20 ... in ascending id order,
# so a higher id is always later and no two releases share a timestamp.
FIRST_HOUR = 9
MINUTE_STEP = 10

LISTING_HEADER = "번호 제목 날짜 조회 수"
LISTING_RE = re.compile(
    r"^(?P<id>\d+) (?P<title>.+?)(?P<file> file)? (?P<date>\d{4}\.\d{2}\.\d{2}) (?P<views>\d+)$"
)


@dataclass(frozen=True)
class ListingRow:
    id: int
    title: str
    has_file: bool
    day: date
    views: int


@dataclass(frozen=True)
class FullRelease:
    title: str
    subtitle_lines: list[str]
    paragraphs: list[str]


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------
def _is_blank(line: str) -> bool:
    """Empty, or whitespace/&nbsp;-only (U+00A0 counts as whitespace in str.strip)."""
    return line.strip() == ""


def _is_spacer(line: str) -> bool:
    """A line that holds only &nbsp; -- the board's paragraph separator."""
    return line != "" and line.strip() == "" and "\xa0" in line


def parse_seed(text: str) -> tuple[FullRelease, list[ListingRow]]:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").lstrip("\ufeff"))
    lines = text.split("\n")
    try:
        header_at = next(i for i, ln in enumerate(lines) if ln.strip() == LISTING_HEADER)
    except StopIteration:
        raise SystemExit(f"seed: listing header {LISTING_HEADER!r} not found") from None

    full = _parse_full_release(lines[:header_at])
    rows = _parse_listing(lines[header_at + 1 :])
    return full, rows


def _parse_full_release(lines: list[str]) -> FullRelease:
    """Title = first non-empty line; subtitle = the lines before the first
    &nbsp; spacer; body = every other non-blank line, one paragraph each."""
    it = iter(lines)
    title = next(ln for ln in it if not _is_blank(ln))
    subtitle_lines: list[str] = []
    paragraphs: list[str] = []
    in_body = False
    for ln in it:
        if _is_spacer(ln):
            in_body = True
            continue
        if _is_blank(ln):
            continue
        (paragraphs if in_body else subtitle_lines).append(ln)
    if not paragraphs:
        raise SystemExit("seed: full release has no body paragraphs")
    return FullRelease(title=title, subtitle_lines=subtitle_lines, paragraphs=paragraphs)


def _parse_listing(lines: list[str]) -> list[ListingRow]:
    rows: list[ListingRow] = []
    for ln in lines:
        if _is_blank(ln):
            continue
        m = LISTING_RE.match(ln)
        if not m:
            raise SystemExit(f"seed: cannot parse listing line {ln!r}")
        y, mo, d = (int(p) for p in m["date"].split("."))
        rows.append(
            ListingRow(
                id=int(m["id"]),
                title=m["title"],
                has_file=m["file"] is not None,
                day=date(y, mo, d),
                views=int(m["views"]),
            )
        )
    return rows


# ---------------------------------------------------------------------------
# Building events
# ---------------------------------------------------------------------------
def release_url(release_id: int) -> str:
    return f"{BASE_URL}/news/press/{release_id}"


def hwp_attachment(release_id: int) -> dict[str, object]:
    """ILLUSTRATIVE: one .hwp per release marked "file" in the listing.
    Size is deterministic: a multiple of 512 (HWP is an OLE compound file)
    between 20 KiB and ~80 KiB, derived from a hash of the id."""
    filename = f"{release_id}_보도자료.hwp"
    digest = int(hashlib.sha256(f"daegu-press-{release_id}".encode()).hexdigest(), 16)
    size = 512 * (40 + digest % 120)
    return {
        "filename": filename,
        # Hangul kept raw on purpose; the system percent-encodes when needed.
        "url": f"{BASE_URL}/news/press/{release_id}/files/{filename}",
        "size": size,
        "media_type": HWP_MEDIA_TYPE,
    }


def contact_for(department: str) -> dict[str, str]:
    name, phone = DEPARTMENT_CONTACTS[department]
    return {"name": name, "phone": phone}


def summary_for(title: str, department: str) -> str:
    """ILLUSTRATIVE: a short sentence built from the title."""
    return f"대구시 {department}에서 “{title}” 관련 소식을 전했습니다."


def listing_body_html(row: ListingRow, department: str) -> str:
    """ILLUSTRATIVE: the listing has no body, so build two short paragraphs."""
    name, phone = DEPARTMENT_CONTACTS[department]
    esc = html.escape
    first = f"<p>{esc(row.title, quote=False)}</p>"
    if row.has_file:
        second = (
            f"<p>대구시 {esc(department)}에서 관련 내용을 발표했습니다. "
            "자세한 내용은 첨부된 보도자료를 참고하시기 바랍니다.</p>"
        )
    else:
        second = (
            f"<p>대구시 {esc(department)}에서 관련 내용을 발표했습니다. "
            f"문의: {esc(name)} ({esc(phone)})</p>"
        )
    return first + "\n" + second


def schedule(rows: list[ListingRow]) -> dict[int, datetime]:
    """published_at per listing id: the listing date at 09:00 KST plus
    MINUTE_STEP minutes per earlier release on the same day (ascending id)."""
    by_day: dict[date, list[int]] = {}
    for r in rows:
        by_day.setdefault(r.day, []).append(r.id)
    out: dict[int, datetime] = {}
    for day, ids in by_day.items():
        for rank, rid in enumerate(sorted(ids)):
            out[rid] = datetime(day.year, day.month, day.day, FIRST_HOUR, tzinfo=KST) + timedelta(
                minutes=MINUTE_STEP * rank
            )
    return out


def _event(
    *,
    release_id: int,
    title: str,
    subtitle: str | None,
    summary: str,
    body_html: str,
    department: str,
    categories: list[str],
    published_at: datetime,
    attachments: list[dict[str, object]],
    views: int,
) -> dict[str, object]:
    stamp = published_at.isoformat()
    return {
        "type": "release.published",
        "release": {
            "id": release_id,
            "title": title,
            "subtitle": subtitle,
            "summary": summary,
            "body_html": body_html,
            "department": department,
            "contact": contact_for(department),
            "categories": categories,
            "url": release_url(release_id),
            "published_at": stamp,
            "updated_at": stamp,
            "attachments": attachments,
            "license": LICENSE,
            "views": views,
        },
    }


def build_events(full: FullRelease, rows: list[ListingRow]) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []

    dept = FULL_RELEASE_DEPARTMENT
    events.append(
        _event(
            release_id=FULL_RELEASE_ID,
            title=full.title,
            subtitle="\n".join(full.subtitle_lines) or None,
            summary=summary_for(full.title, dept),
            body_html="\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in full.paragraphs),
            department=dept,
            categories=list(FULL_RELEASE_CATEGORIES),
            published_at=FULL_RELEASE_PUBLISHED_AT,
            attachments=[],
            views=FULL_RELEASE_VIEWS,
        )
    )

    times = schedule(rows)
    for row in rows:
        try:
            dept, cats = ASSIGNMENTS[row.id]
        except KeyError:
            raise SystemExit(f"no illustrative assignment for listing id {row.id}") from None
        events.append(
            _event(
                release_id=row.id,
                title=row.title,
                subtitle=None,
                summary=summary_for(row.title, dept),
                body_html=listing_body_html(row, dept),
                department=dept,
                categories=list(cats),
                published_at=times[row.id],
                attachments=[hwp_attachment(row.id)] if row.has_file else [],
                views=row.views,
            )
        )
    return sorted(events, key=lambda e: e["release"]["id"])  # type: ignore[index]


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------
REQUIRED_RELEASE_KEYS = {
    "id", "title", "subtitle", "summary", "body_html", "department", "contact",
    "categories", "url", "published_at", "updated_at", "attachments", "license", "views",
}  # fmt: skip


def validate_dir(out_dir: Path) -> list[str]:
    """Return a list of problems (empty = OK)."""
    problems: list[str] = []
    files = sorted(out_dir.glob("*.json"))
    if not files:
        return [f"{out_dir}: no *.json files"]
    ids: dict[int, Path] = {}
    stamps: dict[str, Path] = {}
    for path in files:
        raw = path.read_text(encoding="utf-8")
        try:
            ev = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(f"{path.name}: invalid JSON: {exc}")
            continue
        if raw != unicodedata.normalize("NFC", raw):
            problems.append(f"{path.name}: not NFC")
        if ev.get("type") != "release.published":
            problems.append(f"{path.name}: type is {ev.get('type')!r}")
        rel = ev.get("release", {})
        missing = REQUIRED_RELEASE_KEYS - rel.keys()
        if missing:
            problems.append(f"{path.name}: missing keys {sorted(missing)}")
            continue
        rid = rel["id"]
        if path.name != f"{rid:03d}.json":
            problems.append(f"{path.name}: file name does not match id {rid}")
        if rid in ids:
            problems.append(f"{path.name}: duplicate id {rid} (also {ids[rid].name})")
        ids[rid] = path
        for key in ("published_at", "updated_at"):
            dt = datetime.fromisoformat(rel[key])
            if dt.tzinfo is None or dt.utcoffset() is None:
                problems.append(f"{path.name}: {key} is naive: {rel[key]}")
        ts = rel["published_at"]
        if ts in stamps:
            problems.append(f"{path.name}: published_at {ts} also in {stamps[ts].name}")
        stamps[ts] = path
        bad_cats = set(rel["categories"]) - CATEGORIES
        if not 1 <= len(rel["categories"]) <= 2 or bad_cats:
            problems.append(f"{path.name}: bad categories {rel['categories']}")
        if not str(rel["contact"].get("phone", "")).startswith("053-"):
            problems.append(f"{path.name}: contact phone not 053-")
        for att in rel["attachments"]:
            if not att["url"].startswith(BASE_URL + "/"):
                problems.append(f"{path.name}: attachment url outside {BASE_URL}")
    # higher id => later published_at
    ordered = sorted(ids)
    times = [
        datetime.fromisoformat(json.loads(ids[i].read_text("utf-8"))["release"]["published_at"])
        for i in ordered
    ]
    for (a, ta), (b, tb) in pairwise(zip(ordered, times, strict=True)):
        if not ta < tb:
            problems.append(f"ids {a} -> {b}: published_at not increasing ({ta} >= {tb})")
    return problems


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------
def write_events(events: list[dict[str, object]], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for ev in events:
        rid = ev["release"]["id"]  # type: ignore[index]
        path = out_dir / f"{rid:03d}.json"
        path.write_text(json.dumps(ev, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(
            "Convert the Daegu 보도자료 seed text into demo release.published events "
            "(one NNN.json per release). Department, category, contact, summary, "
            "listing bodies, URLs and attachment details are illustrative."
        )
    )
    parser.add_argument("seed", type=Path, nargs="?", help="path to daegu-press-board.txt")
    parser.add_argument("out_dir", type=Path, help="output directory, e.g. demo/releases")
    parser.add_argument(
        "--check",
        action="store_true",
        help="only validate the JSON files already in OUT_DIR (SEED may be omitted)",
    )
    args = parser.parse_args(argv)

    if not args.check:
        if args.seed is None:
            parser.error("SEED is required unless --check is given")
        full, rows = parse_seed(args.seed.read_text(encoding="utf-8"))
        written = write_events(build_events(full, rows), args.out_dir)
        print(f"wrote {len(written)} files to {args.out_dir}")

    problems = validate_dir(args.out_dir)
    for p in problems:
        print(f"ERROR: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"OK: {args.out_dir} validated")
    return 0


if __name__ == "__main__":
    sys.exit(main())

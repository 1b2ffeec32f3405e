"""Slugs in the Revised Romanization, checked against a table written by hand."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syndicator.config import DEMO_DIR
from syndicator.feeds.urls import SERVABLE_PATH
from syndicator.store.romanization import romanize_hangul
from syndicator.store.taxonomy import proposed_slug

# Every department and category in the demo data, romanised by hand from the standard
# (국어의 로마자 표기법) and its pronunciation rules.
BY_HAND = {
    "감염병관리과": "gamyeombyeonggwalligwa",
    "관광과": "gwangwanggwa",
    "교통정책과": "gyotongjeongchaekgwa",
    "기후대기과": "gihudaegigwa",
    "농산유통과": "nongsanyutonggwa",
    "문화예술정책과": "munhwayesuljeongchaekgwa",
    "보건건강과": "bogeongeonganggwa",
    "시민안전실": "siminanjeonsil",
    "여성가족청소년정책관": "yeoseonggajokcheongsonyeonjeongchaekgwan",
    "위생정책과": "wisaengjeongchaekgwa",
    "의료산업과": "uiryosaneopgwa",
    "일자리노동정책과": "iljarinodongjeongchaekgwa",
    "자연재난과": "jayeonjaenangwa",
    "장애인복지과": "jangaeinbokjigwa",
    "체육진흥과": "cheyukjinheunggwa",
    "투자유치과": "tujayuchigwa",
    "경제": "gyeongje",
    "관광": "gwangwang",
    "교통": "gyotong",
    "문화": "munhwa",
    "보건": "bogeon",
    "복지": "bokji",
    "안전": "anjeon",
    "일자리": "iljari",
    "환경": "hwangyeong",
}

# The standard's own examples of each sound change.
RULES = {
    "신라": "silla",  # ㄴ+ㄹ: lateralisation
    "설날": "seollal",  # ㄹ+ㄴ
    "울릉": "ulleung",  # ㄹㄹ is ll
    "종로": "jongno",  # ㄹ after ㅇ is ㄴ
    "백마": "baengma",  # ㄱ before ㅁ is ㅇ
    "독립문": "dongnimmun",  # both at once
    "같이": "gachi",  # palatalisation
    "해돋이": "haedoji",
    "좋고": "joko",  # aspiration
    "놓다": "nota",
    "묵호": "mukho",  # in nouns ㅎ after ㄱ stays apart
    "좋아": "joa",  # a silent ㅎ
    "닭": "dak",
    "값이": "gapsi",
    "대구광역시": "daegugwangyeoksi",
    "흰지팡이": "huinjipangi",
    "청년": "cheongnyeon",
    "라디오": "radio",  # word-initial ㄹ
}


def _demo_names() -> set[str]:
    names: set[str] = set()
    for path in DEMO_DIR.glob("*.json"):
        release = json.loads(path.read_text(encoding="utf-8"))["release"]
        names.add(release["department"])
        names.update(release.get("categories", []))
    return names


def test_the_table_covers_every_demo_department_and_category() -> None:
    assert _demo_names() <= set(BY_HAND)


@pytest.mark.parametrize(("name", "expected"), sorted({**BY_HAND, **RULES}.items()))
def test_names_romanise_as_the_standard_says(name: str, expected: str) -> None:
    assert romanize_hangul(name) == expected
    assert proposed_slug(name) == expected


def test_other_text_keeps_words_apart() -> None:
    assert proposed_slug("대구광역시 위생정책과") == "daegugwangyeoksi-wisaengjeongchaekgwa"
    assert proposed_slug("AI산업과") == "ai-saneopgwa"
    assert proposed_slug("!!!") == "x"


hangul = st.text(st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1)


@given(hangul)
def test_any_hangul_word_romanises_to_lower_case_letters(word: str) -> None:
    assert re.fullmatch(r"[a-z]+", romanize_hangul(word))


@given(st.text(min_size=1, max_size=80))
def test_every_name_gets_a_servable_slug(name: str) -> None:
    slug = proposed_slug(name)
    assert SERVABLE_PATH.fullmatch(f"departments/{slug}/rss.xml"), slug
    assert proposed_slug(name) == slug  # the same name, the same slug

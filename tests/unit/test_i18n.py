"""The English catalog is complete, and Accept-Language is negotiated among ko and en."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from syndicator.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    catalog_path,
    negotiate,
    translate,
    translations,
)

REPO = Path(__file__).resolve().parents[2]


def _msgids(root: Path) -> set[str]:
    """Every message babel.cfg's extractors find under ``root`` (singular forms)."""
    with (root / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(root), method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _untranslated(root: Path, catalog: Path) -> list[str]:
    """The msgids under ``root`` with no English, or only a fuzzy one."""
    with catalog.open("rb") as po:
        entries = read_po(po, locale="en")
    missing = []
    for msgid in sorted(_msgids(root)):
        entry = entries.get(msgid)
        string = entry.string if entry is not None else ""
        text = string if isinstance(string, str) else (string[0] if string else "")
        if entry is None or entry.fuzzy or not text.strip():
            missing.append(msgid)
    return missing


def test_every_message_residents_read_has_english() -> None:
    missing = _untranslated(REPO, catalog_path("en"))
    assert missing == [], f"run `make messages` and translate: {missing}"


def _tree(tmp_path: Path, template: str, po: str) -> tuple[Path, Path]:
    shutil.copy(REPO / "babel.cfg", tmp_path / "babel.cfg")
    (tmp_path / "templates" / "site").mkdir(parents=True)
    (tmp_path / "templates" / "site" / "page.html").write_text(template, encoding="utf-8")
    catalog = tmp_path / "messages.po"
    catalog.write_text(po, encoding="utf-8")
    return tmp_path, catalog


PAGE = '<p>{% trans %}새 안내\n  문구{% endtrans %}</p><p>{{ _("단추") }}</p>'


def test_a_message_without_english_is_named(tmp_path: Path) -> None:
    root, catalog = _tree(tmp_path, PAGE, 'msgid "단추"\nmsgstr "Button"\n')
    assert _untranslated(root, catalog) == ["새 안내 문구"]


def test_a_fuzzy_or_empty_translation_counts_as_missing(tmp_path: Path) -> None:
    po = '#, fuzzy\nmsgid "새 안내 문구"\nmsgstr "New notice"\n\nmsgid "단추"\nmsgstr ""\n'
    root, catalog = _tree(tmp_path, PAGE, po)
    assert _untranslated(root, catalog) == ["단추", "새 안내 문구"]


def test_a_complete_catalog_passes(tmp_path: Path) -> None:
    po = 'msgid "새 안내 문구"\nmsgstr "New notice"\n\nmsgid "단추"\nmsgstr "Button"\n'
    root, catalog = _tree(tmp_path, PAGE, po)
    assert _untranslated(root, catalog) == []


def test_korean_is_the_msgid_and_english_comes_from_the_catalog() -> None:
    assert translate("ko", "본문 바로가기") == "본문 바로가기"
    assert translate("en", "본문 바로가기") == "Skip to content"
    assert translate("en", "카탈로그에 없는 문장") == "카탈로그에 없는 문장"
    assert translations("fr").gettext("본문 바로가기") == "본문 바로가기"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "ko"),
        ("", "ko"),
        ("en", "en"),
        ("EN-us", "en"),
        ("en-US,en;q=0.9", "en"),
        ("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", "ko"),
        ("en;q=0.5, ko;q=0.8", "ko"),
        ("ko;q=0.5, en;q=0.8", "en"),
        ("fr-FR, en;q=0.3", "en"),
        ("fr-FR, de", "ko"),
        ("en;q=0", "ko"),
        ("en;q=0, *", "ko"),
        ("*", "ko"),
        ("en;q=2", "ko"),
        ("en;q=abc", "ko"),
        ("zh-Hant-TW, en-GB;q=0.1", "en"),
        (",,;;q=,en", "en"),
        ("x" * 2000 + ",en", "ko"),
    ],
)
def test_accept_language(header: str | None, language: str) -> None:
    assert negotiate(header) == language


@hyp_settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_header_negotiates_a_language_of_ours(header: str) -> None:
    assert negotiate(header) in LANGUAGES


_TAGS = st.sampled_from(["ko", "en", "en-US", "ko-KR", "fr", "de-CH", "zh-Hant", "EN"])
_ITEMS = st.tuples(_TAGS, st.one_of(st.none(), st.integers(0, 1000)))


@hyp_settings(max_examples=200, deadline=None)
@given(st.lists(_ITEMS, max_size=6))
def test_the_most_preferred_language_of_ours_wins(items: list[tuple[str, int | None]]) -> None:
    """Highest quality first, the earlier on a tie; q=0 refuses; regions count as their
    language."""
    header = ", ".join(t if q is None else f"{t};q={q / 1000:.3f}" for t, q in items)
    candidates = [
        (-(1.0 if q is None else q / 1000), index, tag.split("-")[0].lower())
        for index, (tag, q) in enumerate(items)
        if q != 0 and tag.split("-")[0].lower() in LANGUAGES
    ]
    expected = min(candidates)[2] if candidates else DEFAULT_LANGUAGE
    assert negotiate(header) == expected


# Names a resident picks their language by (each in its own language), and the mails'
# Korean font, named in their CSS.
_OWN_NAMES = {"한국어", "맑은", "고딕"}
_HANGUL = re.compile(r"[\uac00-\ud7a3]+")
_MARKED = re.compile(
    r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}"  # a trans block, its variables included
    r"|{#.*?#}"  # a comment
    r"|\b_\(\s*(?:\"[^\"]*\"|'[^']*')",  # _("…")'s message
    re.S,
)


def _unmarked_korean(template: str) -> set[str]:
    return set(_HANGUL.findall(_MARKED.sub("", template))) - _OWN_NAMES


RESIDENT_TEMPLATES = sorted(
    path.relative_to(REPO / "templates").as_posix()
    for folder in ("site", "subscriptions", "email")
    for path in (REPO / "templates" / folder).rglob("*")
    if path.suffix in (".html", ".txt")
)


@pytest.mark.parametrize("name", RESIDENT_TEMPLATES)
def test_a_residents_template_has_no_korean_outside_its_messages(name: str) -> None:
    """Korean chrome outside {% trans %} or _() would reach English readers untranslated."""
    text = (REPO / "templates" / name).read_text(encoding="utf-8")
    assert _unmarked_korean(text) == set()


def test_unmarked_korean_is_found() -> None:
    assert _unmarked_korean("<p>{% trans %}안내{% endtrans %} 주의</p>") == {"주의"}
    assert _unmarked_korean('{{ "분야" if x }}{{ _("부서") }}') == {"분야"}
    assert _unmarked_korean('<a lang="ko">한국어</a>{# 설명 #}') == set()

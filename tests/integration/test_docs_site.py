"""The documentation site builds with `mkdocs build --strict` (what `make docs` runs): a
broken link or anchor, or a page left out of the navigation, fails it. The README's links
into docs/ land on real pages and anchors, and every alert has its runbook."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
README_LINK = re.compile(r"\]\((docs/[^)#\s]+)(?:#([^)\s]+))?\)")


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids.update(value for name, value in attrs if name == "id" and value)


def ids_in(page: Path) -> set[str]:
    parser = _Ids()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.ids


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return out


def built_page(site: Path, doc: str) -> Path:
    """docs/feeds.md -> site/feeds/index.html (directory URLs); index.md -> index.html."""
    stem = Path(doc).relative_to("docs").with_suffix("")
    return site / "index.html" if stem.name == "index" else site / stem / "index.html"


def test_the_site_builds_strict_with_every_page(site: Path) -> None:
    for doc in (ROOT / "docs").glob("*.md"):
        assert built_page(site, f"docs/{doc.name}").is_file(), doc.name


def test_the_readme_links_land_on_pages_and_anchors(site: Path) -> None:
    links = README_LINK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(links) >= 10
    broken = []
    for doc, anchor in links:
        if not (ROOT / doc).is_file():
            broken.append(doc)
        elif anchor and anchor not in ids_in(built_page(site, doc)):
            broken.append(f"{doc}#{anchor}")
    assert not broken, f"README links to what does not exist: {broken}"


def test_every_alert_has_a_runbook(site: Path) -> None:
    rules = yaml.safe_load((ROOT / "ops" / "alerts.yml").read_text(encoding="utf-8"))
    alerts = [rule["alert"] for group in rules["groups"] for rule in group["rules"]]
    assert alerts
    runbooks = ids_in(built_page(site, "docs/alerts.md"))
    assert {a for a in alerts if a.lower() not in runbooks} == set()


def test_a_broken_anchor_fails_the_strict_build(tmp_path: Path) -> None:
    """The build above proves something only if strict mode refuses a bad anchor."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[there](other.md#nowhere)\n", encoding="utf-8")
    (docs / "other.md").write_text("# Other\n", encoding="utf-8")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    config.pop("nav")
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "s")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert done.returncode != 0
    assert "#nowhere" in done.stderr

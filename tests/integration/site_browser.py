"""Helpers for the residents' site in a real browser: Chromium, axe-core, layout checks."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

__all__ = [
    "AXE_VERSION",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "axe_source",
    "browser_page",
    "fails_axe",
    "horizontal_overflow",
    "screenshots_dir",
]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without these, Chromium reaches for Google's hosts, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_VERSION = "4.10.3"
NPM_REGISTRY = "https://registry.npmjs.org"
_AXE_CACHE = Path.home() / ".cache" / "syndicator-tests" / f"axe-core-{AXE_VERSION}.min.js"
# axe's own impact words; the issue fails these two.
FAILING_IMPACTS = ("serious", "critical")


def axe_source() -> str:
    """axe.min.js of the npm package axe-core, straight from the npm registry (no npm
    needed), checked against the registry's sha512 and cached outside the checkout."""
    if not _AXE_CACHE.exists():
        try:
            meta = httpx.get(f"{NPM_REGISTRY}/axe-core/{AXE_VERSION}", timeout=60).json()
            tarball = httpx.get(meta["dist"]["tarball"], timeout=300).content
        except httpx.HTTPError as exc:
            pytest.skip(f"the npm registry cannot be reached for axe-core: {exc}")
        algorithm, _, expected = meta["dist"]["integrity"].partition("-")
        assert algorithm == "sha512"
        assert base64.b64encode(hashlib.sha512(tarball).digest()).decode() == expected
        with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
            member = archive.extractfile("package/axe.min.js")
            assert member is not None
            _AXE_CACHE.parent.mkdir(parents=True, exist_ok=True)
            _AXE_CACHE.write_bytes(member.read())
    return _AXE_CACHE.read_text()


def fails_axe(page: Any, source: str) -> list[dict]:
    """The page's WCAG 2.1 A/AA violations that are serious or critical."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated over the DevTools protocol, so the page's CSP does not block it.
        page.evaluate(source)
    violations = page.evaluate(
        """async () => {
            const result = await axe.run(document, {
                runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
            });
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5),
            }));
        }"""
    )
    if os.environ.get("SYNDICATOR_AXE_ALL"):  # to see the moderate and minor ones too
        print(page.url, [(v["id"], v["impact"], v["nodes"]) for v in violations])
    return [v for v in violations if v["impact"] in FAILING_IMPACTS]


def horizontal_overflow(page: Any) -> int:
    """How many pixels the page is wider than the viewport (0: no sideways scrolling)."""
    return int(
        page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def screenshots_dir(tmp_path: Path) -> Path:
    """docs/screenshots when `make screenshots` asks for them, else the test's tmp dir."""
    wanted = os.environ.get("SYNDICATOR_SCREENSHOTS_DIR")
    target = Path(wanted) if wanted else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    return target


@contextmanager
def browser_page(width: int = 1280, height: int = 900, locale: str = "ko-KR") -> Iterator[Any]:
    """A page in Chromium whose Accept-Language is ``locale``'s."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(locale=locale, viewport={"width": width, "height": height})
        page = context.new_page()
        page.csp_violations = []  # type: ignore[attr-defined]
        page.on(
            "console",
            lambda message: (
                page.csp_violations.append(message.text)  # type: ignore[attr-defined]
                if "Content Security Policy" in message.text
                else None
            ),
        )
        try:
            yield page
        finally:
            context.close()
            browser.close()

"""One Jinja environment per templates directory and language, with autoescaping for HTML
and the i18n extension: templates mark text with ``{% trans %}`` or ``_("…")``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment

from syndicator.config import Settings
from syndicator.i18n import DEFAULT_LANGUAGE, template_environment
from syndicator.web.html.feed_sets import feed_sets

__all__ = ["KOREAN", "PageLanguage", "environment", "render"]


@dataclass(frozen=True)
class PageLanguage:
    """A page's language, and the link to the same page in the other one."""

    code: str = DEFAULT_LANGUAGE
    other: str = "en"
    switch: str | None = None  # relative (``?lang=en``), so it keeps the page's path


KOREAN = PageLanguage()


@lru_cache(maxsize=8)
def environment(templates_dir: Path, language: str = DEFAULT_LANGUAGE) -> Environment:
    env = template_environment(templates_dir, language, ("html", "xml"))
    # Pages that do not name their feeds (subscription pages) offer the site's.
    env.globals["site_feed_sets"] = feed_sets
    return env


def render(settings: Settings, name: str, *, page: PageLanguage = KOREAN, **context: Any) -> str:
    """The page ``name`` under the settings' templates in ``page``'s language. Every page
    reads ``settings``, ``language`` (its ``<html lang>``), and ``language_switch`` with
    ``other_language`` for the link to itself in the other language."""
    env = environment(settings.templates_dir, page.code)
    return env.get_template(name).render(
        settings=settings,
        language=page.code,
        other_language=page.other,
        language_switch=page.switch,
        **context,
    )

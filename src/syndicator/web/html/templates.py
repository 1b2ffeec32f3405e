"""One Jinja environment per templates directory, with autoescaping for HTML."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from syndicator.config import Settings
from syndicator.web.html.feed_sets import feed_sets

__all__ = ["environment", "render"]


@lru_cache(maxsize=4)
def environment(templates_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Pages that do not name their feeds (subscription pages) offer the site's.
    env.globals["site_feed_sets"] = feed_sets
    return env


def render(settings: Settings, name: str, **context: Any) -> str:
    """The page ``name`` under the settings' templates, which every page reads as ``settings``."""
    return (
        environment(settings.templates_dir).get_template(name).render(settings=settings, **context)
    )

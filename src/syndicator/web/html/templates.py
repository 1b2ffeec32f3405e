"""One Jinja environment per templates directory, with autoescaping for HTML."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from syndicator.web.html.feed_sets import feed_sets

__all__ = ["environment"]


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

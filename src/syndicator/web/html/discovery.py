"""HTML <head> autodiscovery tags for one scope's feeds (absolute, escaped)."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from syndicator.feeds.render.formats import ATOM_TYPE, JSON_TYPE, RSS_TYPE
from syndicator.feeds.render.model import FormatUrls

__all__ = ["autodiscovery_tags"]


def _tag(media_type: str, title: str, href: str) -> str:
    if not href.startswith(("https://", "http://")):
        raise ValueError(f"autodiscovery needs an absolute URL, got {href!r}")
    return (
        f'<link rel="alternate" type="{media_type}" '
        f'title="{escape(title, quote=True)}" href="{escape(href, quote=True)}">'
    )


def autodiscovery_tags(title: str, urls: FormatUrls) -> Markup:
    """``<link rel="alternate">`` for each format the scope has; safe to drop into Jinja.

    ``urls`` must already be absolute: readers resolve relative hrefs inconsistently.
    """
    tags = []
    if urls.rss:
        tags.append(_tag(RSS_TYPE, f"{title} (RSS)", urls.rss))
    tags.append(_tag(ATOM_TYPE, f"{title} (Atom)", urls.atom))
    if urls.json:
        tags.append(_tag(JSON_TYPE, f"{title} (JSON Feed)", urls.json))
    return Markup("\n".join(tags))

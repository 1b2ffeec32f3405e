"""A newsletter's web copy as a page of the residents' site: pure, from the stored copy."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from syndicator.config import Settings
from syndicator.feeds.scopes import SITE
from syndicator.mail.digests import period_label
from syndicator.mail.views import release_view
from syndicator.web.html.feed_sets import feed_sets
from syndicator.web.html.templates import KOREAN, PageLanguage, render

__all__ = ["render_copy"]


def _item(
    settings: Settings, release: Mapping[str, Any], retracted: bool, language: str
) -> dict[str, Any]:
    view = release_view(release, language)
    return {
        **view,
        "page": f"{settings.base_url}/releases/{view['id']}",
        "retracted": retracted,
    }


def render_copy(
    settings: Settings,
    copy_id: str,
    kind: str,
    content: Mapping[str, Any],
    retracted: Collection[int],
    page: PageLanguage = KOREAN,
) -> str:
    """``retracted``: the ids among the copy's releases withdrawn since it was mailed;
    they show a notice in place of their summary and files, as the board's page does.
    The page's chrome and labels follow ``page``; the release text stays as written."""
    language = page.code
    items = [_item(settings, r, r["id"] in retracted, language) for r in content["releases"]]
    period = None
    if kind == "digest":
        day = date.fromisoformat(content["period"])
        period = period_label(content["mode"], day, language)
    return render(
        settings,
        "site/newsletter.html",
        page=page,
        items=items,
        period=period,
        correction=bool(content.get("correction")),
        canonical=f"{settings.base_url}/newsletters/{copy_id}",
        feed_sets=feed_sets(settings, SITE),
    )

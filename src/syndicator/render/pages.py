"""Site pages as pure functions of settings and rows."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from syndicator.config import Settings
from syndicator.render.templates import environment
from syndicator.store.models import Release

__all__ = ["KST", "render_home"]

KST = ZoneInfo("Asia/Seoul")


def render_home(settings: Settings, releases: Sequence[Release]) -> str:
    template = environment(settings.templates_dir).get_template("site/home.html")
    items = [
        {
            "id": r.id,
            "title": r.title,
            "url": r.url,
            "department": r.department,
            "published": r.published_at.astimezone(KST).strftime("%Y.%m.%d"),
            "categories": r.categories,
        }
        for r in releases
    ]
    return template.render(settings=settings, releases=items)

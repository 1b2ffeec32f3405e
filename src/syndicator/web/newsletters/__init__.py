"""The web copy of each newsletter and digest (``/newsletters/<id>``): :mod:`.routes`
reads it, :mod:`.render` draws it in the site's layout."""

from __future__ import annotations

from syndicator.web.newsletters.routes import router

__all__ = ["router"]

"""The residents' board, in Korean: :mod:`.routes` reads the database, :mod:`.render`
draws the pages from what it read."""

from __future__ import annotations

from syndicator.web.board.routes import router

__all__ = ["router"]

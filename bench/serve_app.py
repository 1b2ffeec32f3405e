"""The real application plus a 1-byte route, the ceiling for bench.serve_feeds.

Run as ``uvicorn bench.serve_app:app --factory`` with SYNDICATOR_DATA_DIR set.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syndicator.config import load_settings
from syndicator.web.app import create_app

CEILING_PATH = "/bench/one"


async def one(_request: Request) -> Response:
    return Response(b"x")


def app() -> FastAPI:
    application = create_app(load_settings())
    routes = application.router.routes
    # Just before the feed routes: the router walks the same routes to reach either.
    position = next(
        (i for i, r in enumerate(routes) if getattr(r, "name", None) == "feeds_index"),
        len(routes),
    )
    routes.insert(position, Route(CEILING_PATH, one, methods=["GET"]))
    return application

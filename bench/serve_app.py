"""The real application plus a 1-byte route, the ceiling for bench.serve_feeds.

Run as ``python -m bench.serve_app PORT`` with SYNDICATOR_DATA_DIR set: uvicorn as
`syndicator web` runs it (the same HTTP protocol), one worker, no access log.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syndicator.config import load_settings
from syndicator.web.app import create_app
from syndicator.web.server import CoalescingHttpToolsProtocol

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


if __name__ == "__main__":
    import importlib.util
    import sys

    import uvicorn

    uvicorn.run(
        "bench.serve_app:app",
        factory=True,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        workers=1,
        access_log=False,
        log_level="warning",
        http=CoalescingHttpToolsProtocol,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "auto",
    )

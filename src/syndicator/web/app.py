"""The ASGI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from syndicator import __version__
from syndicator.config import Settings, load_settings
from syndicator.events.schema import CmsEvent
from syndicator.runtime.redis_urls import redis_client
from syndicator.store.db import Database
from syndicator.web import deliveries, hooks, ops, pages, partners, subscriptions
from syndicator.web.feeds import feed_routes
from syndicator.web.problems import install_problem_handler
from syndicator.web.state import AppState

__all__ = ["create_app"]

DESCRIPTION = """
syndicator receives signed release events from the CMS, stores them durably and
delivers them to every channel: feeds, newsletters and partner webhooks.

The CMS signs each request with the [Standard Webhooks](https://www.standardwebhooks.com/)
scheme using `SYNDICATOR_CMS_SECRET`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    db = Database(settings.database_url)
    state = AppState(settings=settings, db=db, redis=redis_client(settings, timeout=2.0))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        state.redis.close()
        db.dispose()

    app = FastAPI(
        title="syndicator", version=__version__, description=DESCRIPTION, lifespan=lifespan
    )
    app.state.syndicator = state
    install_problem_handler(app)
    # Feeds first: the hottest path should not try every API route before matching.
    app.router.routes.extend(feed_routes(settings, db))
    app.include_router(hooks.router)
    app.include_router(ops.router)
    app.include_router(subscriptions.router)
    app.include_router(partners.router)
    app.include_router(deliveries.router)
    app.include_router(pages.router)
    _document_event_schema(app)
    return app


def _document_event_schema(app: FastAPI) -> None:
    """The hook reads its raw body (to verify the signature), so add its schema by hand."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        defs = CmsEvent.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(defs.pop("$defs", {}))
        components["CmsEvent"] = defs
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

"""The ASGI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from syndicator import __version__
from syndicator.config import STATIC_DIR, Settings, load_settings
from syndicator.events.schema import CmsEvent
from syndicator.logs import configure_logging
from syndicator.runtime.redis_urls import redis_client
from syndicator.store.db import Database
from syndicator.tracing import configure_tracing, instrument_app
from syndicator.web import (
    api_docs,
    board,
    bounce_hooks,
    console,
    deliveries,
    event_types,
    hooks,
    newsletters,
    notices,
    ops,
    partners,
    portal,
    subscriptions,
)
from syndicator.web.document_push import DocumentPush
from syndicator.web.feed_lists import feed_list_routes
from syndicator.web.feeds import feed_routes
from syndicator.web.head_requests import HeadAsGet
from syndicator.web.language import SiteLanguage
from syndicator.web.not_found import install_not_found_page
from syndicator.web.policy_docs import document_request_policy
from syndicator.web.problems import install_problem_handler
from syndicator.web.representations import DocumentCache
from syndicator.web.request_guard import RequestGuard
from syndicator.web.request_policy import policy_table
from syndicator.web.site_headers import SiteHeaders
from syndicator.web.state import AppState
from syndicator.web.webhook_docs import document_partner_webhooks

__all__ = ["create_app", "served_app"]

DESCRIPTION = """
syndicator receives signed release events from the CMS, stores them durably and
delivers them to every channel: feeds, newsletters and partner webhooks.

The CMS signs each request with the [Standard Webhooks](https://www.standardwebhooks.com/)
scheme using `SYNDICATOR_CMS_SECRET`.
"""


def served_app() -> FastAPI:
    """What `syndicator web` serves, built in each uvicorn worker process: the one place
    that process reads its settings; everything in it is handed these."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing(settings, "syndicator-web")  # before the app makes its engine
    return create_app(settings)


def create_app(settings: Settings) -> FastAPI:
    # The site, search and served feeds read the replica when one is configured.
    db = Database(settings.database_url, read_url=settings.database_read_url)
    state = AppState(settings=settings, db=db, redis=redis_client(settings, timeout=2.0))
    caches: list[DocumentCache] = []
    push = DocumentPush(settings, caches)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        push.start()
        yield
        await push.stop()
        await bounce_hooks.close(app)
        state.redis.close()
        db.dispose()

    app = FastAPI(
        title="syndicator",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # /docs is served from vendored assets (web.api_docs): no CDN, no ReDoc.
        docs_url=None,
        redoc_url=None,
    )
    app.state.syndicator = state
    install_problem_handler(app)
    install_not_found_page(app)
    # Before routing, authentication and parsing: who may send what, and how much.
    policies = policy_table(settings)
    app.add_middleware(RequestGuard, table=policies, base_url=settings.base_url)
    # The residents' language, chosen once per request; outside the guard, so its pages
    # are labelled too.
    app.add_middleware(SiteLanguage, https=settings.base_url.startswith("https://"))
    # Outside the guard, so its refusals carry the headers too.
    app.add_middleware(SiteHeaders, https=settings.base_url.startswith("https://"))
    app.add_middleware(HeadAsGet)  # outermost: HEAD runs every GET route, bodiless
    instrument_app(app)
    # Feeds first: the hottest path should not try every API route before matching.
    app.router.routes.extend(feed_list_routes(settings, db))  # before /feeds/{path}
    app.router.routes.extend(feed_routes(settings, db, caches))
    # The shipped emblem (feeds' icon and logo), and the site's styles to come.
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(hooks.router)
    app.include_router(bounce_hooks.router)
    app.include_router(ops.router)
    app.include_router(console.router)
    app.include_router(api_docs.router)
    app.include_router(subscriptions.router)
    app.include_router(partners.router)
    app.include_router(event_types.router)
    app.include_router(portal.router)
    app.include_router(deliveries.router)
    app.include_router(notices.router)
    app.include_router(board.router)
    app.include_router(newsletters.router)
    _document_event_schema(app)
    document_partner_webhooks(app)
    app.openapi = document_request_policy(app.openapi, policies)  # type: ignore[method-assign]
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

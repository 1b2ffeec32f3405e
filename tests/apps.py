"""The app as `syndicator web` builds it, made without touching any service: for reading
its routes and its OpenAPI document at collection time."""

from __future__ import annotations

from fastapi import FastAPI

from syndicator.config import load_settings
from syndicator.web.app import create_app

__all__ = ["offline_app"]


def offline_app() -> FastAPI:
    """Nothing connects until a request arrives, and none will."""
    return create_app(
        load_settings(
            {
                "SYNDICATOR_DATA_DIR": "/nonexistent/syndicator-offline",
                "SYNDICATOR_DATABASE_URL": "sqlite://",
                "SYNDICATOR_ADMIN_TOKEN": "offline",
                "SYNDICATOR_CMS_SECRET": "whsec_b2ZmbGluZQ==",
            }
        )
    )

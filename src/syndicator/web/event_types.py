"""HTTP API: the event catalog partners integrate from, and the same as AsyncAPI 3.0.

Public, like the OpenAPI document: a schema is not a secret, and a partner reads it
before it has anything else. The rules live in partners/catalog.py and partners/asyncapi.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from syndicator import __version__
from syndicator.partners.asyncapi import asyncapi_document
from syndicator.partners.catalog import CATALOG, example, json_schema
from syndicator.partners.envelope import ENVELOPE_VERSION
from syndicator.web.problem_route import ProblemRoute
from syndicator.web.problems import PROBLEM_CONTENT, Problem

__all__ = ["EventTypeView", "router"]

router = APIRouter(tags=["Event types"], route_class=ProblemRoute)


class EventTypeView(BaseModel):
    type: str = Field(description="e.g. release.published")
    version: int = Field(description="The envelope version the schema describes.")
    summary: str
    description: str
    schema_: dict[str, Any] = Field(
        alias="schema", description="JSON Schema (2020-12) of the envelope as sent."
    )
    example: dict[str, Any] = Field(description="An envelope as a partner receives it.")


def _view(event_type: str) -> EventTypeView:
    entry = CATALOG[event_type]
    return EventTypeView.model_validate(
        {
            "type": event_type,
            "version": ENVELOPE_VERSION,
            "summary": entry.summary,
            "description": entry.description,
            "schema": json_schema(event_type),
            "example": example(event_type),
        }
    )


@router.get(
    "/api/event-types",
    summary="Every event type partners can receive",
    response_model_by_alias=True,
)
def list_event_types() -> list[EventTypeView]:
    return [_view(name) for name in CATALOG]


@router.get(
    "/api/event-types/{event_type}",
    summary="One event type: its JSON Schema and an example",
    response_model_by_alias=True,
    responses={404: {"description": "No such event type", **PROBLEM_CONTENT}},
)
def get_event_type(event_type: str) -> EventTypeView:
    if event_type not in CATALOG:
        known = ", ".join(CATALOG)
        raise Problem(404, "Not found", f"no event type {event_type!r}; known: {known}")
    return _view(event_type)


@router.get(
    "/asyncapi.json",
    summary="The partner webhooks as an AsyncAPI 3.0 document",
    response_class=JSONResponse,
)
def asyncapi() -> dict[str, Any]:
    return asyncapi_document(__version__)

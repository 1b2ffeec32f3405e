"""The event catalog: every schema is valid JSON Schema, every example and every envelope
the builder makes from an accepted event validates, with the independent ``jsonschema``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from pydantic import ValidationError as PydanticError

from syndicator.events.schema import CmsEvent
from syndicator.partners.catalog import CATALOG, example, json_schema
from syndicator.partners.envelope import (
    ENVELOPE_VERSION,
    EVENT_TYPES,
    build_envelope,
    build_test_envelope,
)
from tests.strategies import event_documents

WHEN = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def validate(envelope: dict) -> None:
    Draft202012Validator(json_schema(envelope["type"])).validate(envelope)


def test_the_catalog_has_every_release_event_and_the_test_event():
    assert set(CATALOG) == {*EVENT_TYPES, "partner.test"}


@pytest.mark.parametrize("event_type", list(CATALOG))
def test_each_schema_is_valid_and_names_its_version(event_type: str):
    schema = json_schema(event_type)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith(f":{event_type}:v{ENVELOPE_VERSION}")
    assert schema["properties"]["type"]["const"] == event_type


@pytest.mark.parametrize("event_type", list(CATALOG))
def test_each_example_validates_and_is_of_its_type(event_type: str):
    envelope = example(event_type)
    validate(envelope)
    assert envelope["type"] == event_type and envelope["version"] == ENVELOPE_VERSION


def test_a_schema_refuses_another_type_a_missing_field_and_an_extra_one():
    published = example("release.published")
    with pytest.raises(ValidationError):
        Draft202012Validator(json_schema("release.updated")).validate(published)
    without_title = {**published, "data": {"release": dict(published["data"]["release"])}}
    del without_title["data"]["release"]["title"]
    with pytest.raises(ValidationError):
        validate(without_title)
    with pytest.raises(ValidationError):
        validate({**published, "surprise": 1})


def test_a_retraction_schema_refuses_the_withdrawn_text():
    retracted = example("release.retracted")
    leaked = {"release": {**retracted["data"]["release"], "title": "철회된 제목"}}
    with pytest.raises(ValidationError):
        validate({**retracted, "data": leaked})


def test_the_test_event_names_its_partner():
    envelope = build_test_envelope("evt_t", WHEN, 12, "뉴스1")
    validate(envelope)
    assert envelope["data"]["partner"] == {"id": 12, "name": "뉴스1"}


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(event_documents())
def test_every_envelope_made_from_an_accepted_event_validates(document: dict):
    try:
        event = CmsEvent.model_validate(document)
    except PydanticError:
        return  # refused at the hook: never sent
    payload = event.model_dump(mode="json")
    envelope = build_envelope("evt_x", event.type, WHEN, payload, "https://news.daegu.go.kr")
    validate(envelope)

"""docs/configuration.md cannot drift from the settings code: the table it is rendered from
lists every variable config.py reads, each sets the field it names, each default it shows
is the one load_settings applies, and the committed page is the rendering of today's table."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from syndicator import config
from syndicator.config import Settings, load_settings
from syndicator.config_reference import (
    PAGE,
    PARSED,
    TOPICS,
    VARIABLES,
    Variable,
    default_text,
    form_text,
    parser_form,
    render_page,
)

CONFIG_SOURCE = Path(config.__file__).read_text(encoding="utf-8")
NAMES = {v.name: v for v in VARIABLES}


def test_every_variable_config_reads_is_documented() -> None:
    read = set(re.findall(r"SYNDICATOR_[A-Z0-9_]+", CONFIG_SOURCE))
    assert read, "config.py no longer names its variables: update the reference"
    assert read - NAMES.keys() == set(), "config.py reads variables the page does not list"
    assert NAMES.keys() - read == set(), "the page lists variables config.py never reads"


def test_names_are_listed_once_under_a_known_topic() -> None:
    assert len(NAMES) == len(VARIABLES)
    assert {v.topic for v in VARIABLES} <= TOPICS.keys()
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert {v.field for v in VARIABLES} <= fields


@pytest.mark.parametrize("variable", VARIABLES, ids=lambda v: v.name)
def test_each_variable_sets_the_field_it_names(variable: Variable, tmp_path: Path) -> None:
    base = {"SYNDICATOR_DATA_DIR": str(tmp_path)}
    if variable.name == "SYNDICATOR_DATA_DIR":
        base = {"SYNDICATOR_DATA_DIR": str(tmp_path / "other")}
    unset = load_settings(base)
    given = load_settings({**base, variable.name: variable.example})
    changed = {
        f.name
        for f in dataclasses.fields(Settings)
        if getattr(unset, f.name) != getattr(given, f.name)
    }
    assert variable.field in changed


@pytest.mark.parametrize(
    "variable", [v for v in VARIABLES if v.default is None], ids=lambda v: v.name
)
def test_each_default_shown_is_the_one_applied(variable: Variable, tmp_path: Path) -> None:
    """A default the page takes from the Settings field is also what an unset variable
    gives, so a default changed in one place only fails here."""
    field = next(f for f in dataclasses.fields(Settings) if f.name == variable.field)
    applied = getattr(load_settings({"SYNDICATOR_DATA_DIR": str(tmp_path)}), variable.field)
    assert applied == field.default


def test_the_committed_page_is_the_rendering() -> None:
    assert PAGE.read_text(encoding="utf-8") == render_page(), (
        "docs/configuration.md is stale: run `python -m syndicator.config_reference --write`"
    )


def test_the_page_shows_each_variable_with_its_default_and_form() -> None:
    page = render_page()
    for variable in VARIABLES:
        row = next(line for line in page.splitlines() if line.startswith(f"| `{variable.name}`"))
        assert form_text(variable).replace("|", "\\|") in row
    assert "| `SYNDICATOR_FEED_SIZE` | `20` |" in page
    assert "| `SYNDICATOR_WEBHOOK_RETRY_SCHEDULE` | `5,300,1800,7200,18000,36000,36000` |" in page


def test_the_sender_shown_is_the_one_used(tmp_path: Path) -> None:
    sender = load_settings({"SYNDICATOR_DATA_DIR": str(tmp_path)}).sender
    assert f"`{sender}`" == default_text(NAMES["SYNDICATOR_MAIL_FROM"])


@pytest.mark.parametrize("variable", VARIABLES, ids=lambda v: v.name)
def test_a_form_is_written_by_hand_only_where_no_parser_names_one(variable: Variable) -> None:
    """A variable config.py checks shows the form its errors name, so the page and the
    error a bad value gets say the same; the table's own words are for free text."""
    named = parser_form(variable)
    if named is None:
        assert variable.form != PARSED, "config.py takes any text: describe the form"
    else:
        assert variable.form == PARSED, f"config.py names the form itself: {named!r}"
        assert named in render_page()


def test_the_page_shows_the_form_a_bad_value_is_told() -> None:
    assert "| `SYNDICATOR_DIGEST_HOUR` | `8` | an integer 0–23 |" in render_page()

"""`syndicator partners …` and `syndicator deliveries …`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from syndicator.cli import app
from syndicator.partners.directory import load_snapshots
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.models import Delivery, utcnow
from tests.integration.test_partner_admin import add_delivery, add_event
from tests.sealing import ring

PUBLIC_URL = "https://93.184.215.14/hooks"

COMMANDS = [
    "partners",
    "partners add",
    "partners list",
    "partners show",
    "partners update",
    "partners delete",
    "partners rotate-secret",
    "partners enable",
    "partners disable",
    "partners recover",
    "deliveries",
    "deliveries list",
    "deliveries show",
    "deliveries replay",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_help(command: str) -> None:
    result = CliRunner().invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.fixture
def cli_db(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Database]:
    monkeypatch.setenv("SYNDICATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SYNDICATOR_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "300")
    upgrade(database_url)
    with Database(database_url) as db:
        yield db


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def run_json(*args: str) -> Any:
    return json.loads(run(*args, "--json"))


def test_partner_lifecycle(cli_db: Database) -> None:
    created = run_json(
        "partners", "add", "연합뉴스", PUBLIC_URL,
        "--event-type", "release.published", "--header", "X-Env: prod",
        "--rate-limit", "10", "--max-in-flight", "4", "--department", "교통정책과",
    )  # fmt: skip
    assert created["secret"].startswith("whsec_")
    assert created["headers"] == {"X-Env": {"value": "prod", "secret": False}}
    assert created["departments"] == ["교통정책과"]
    partner = str(created["id"])
    assert [p["id"] for p in run_json("partners", "list")] == [created["id"]]
    table = run("partners", "list")
    assert "연합뉴스" in table and created["secret"] not in table
    shown = run_json("partners", "show", partner)
    assert "secret" not in shown and shown["event_types"] == ["release.published"]
    updated = run_json(
        "partners", "update", partner, "--name", "뉴시스", "--all-event-types", "--no-rate-limit"
    )
    assert updated["name"] == "뉴시스" and updated["event_types"] is None
    assert updated["rate_limit_per_s"] is None and updated["max_in_flight"] == 4
    rotated = run_json("partners", "rotate-secret", partner)
    assert rotated["secret"] != created["secret"] and len(rotated["signing_keys"]) == 2
    assert "signs until" in run("partners", "show", partner)
    disabled = run_json("partners", "disable", partner, "--reason", "점검")
    assert disabled["state"] == "disabled" and disabled["disabled_reason"] == "점검"
    assert run_json("partners", "enable", partner)["state"] == "active"
    gone = run_json("partners", "delete", partner, "--yes")
    assert gone == {"id": created["id"], "deleted": True, "suppressed_deliveries": 0}
    assert run_json("partners", "list") == []


def test_secret_headers_are_kept_and_never_shown(cli_db: Database) -> None:
    created = run_json(
        "partners", "add", "A", PUBLIC_URL, "--header", "Authorization: Bearer cli-tok-1",
        "--header", "X-Env: prod", "--secret-header", "X-Partner-Id: pid-7781",
    )  # fmt: skip
    partner = str(created["id"])
    secret = {"value": None, "secret": True}
    assert created["headers"] == {
        "Authorization": secret, "X-Env": {"value": "prod", "secret": False}, "X-Partner-Id": secret
    }  # fmt: skip
    updated = run_json(
        "partners", "update", partner, "--header", "X-Env: staging",
        "--keep-header", "Authorization", "--keep-header", "X-Partner-Id",
    )  # fmt: skip
    assert updated["headers"]["X-Env"]["value"] == "staging"
    for output in (run("partners", "show", partner), run("partners", "list"), str(updated)):
        assert "cli-tok-1" not in output and "pid-7781" not in output
    assert "X-Partner-Id: (secret, set)" in run("partners", "show", partner)
    with cli_db.read_session() as session:
        headers = load_snapshots(session, utcnow(), ring())[created["id"]].headers
    assert dict(headers) == {
        "Authorization": "Bearer cli-tok-1", "X-Env": "staging", "X-Partner-Id": "pid-7781"
    }  # fmt: skip
    refused = run("partners", "update", partner, "--keep-header", "X-New", code=2)
    assert "X-New has no stored value to keep" in refused


def test_errors_are_one_line(cli_db: Database) -> None:
    refused = run("partners", "add", "x", "http://127.0.0.1/hook", code=2)
    assert refused.strip().startswith("error:") and "url" in refused and "loopback" in refused
    assert len(refused.strip().splitlines()) == 1
    bad = run(
        "partners", "add", "x", PUBLIC_URL, "--header", "Host: a", "--max-in-flight", "0", code=2
    )
    assert "headers" in bad and "max_in_flight" in bad
    assert "--header" in run("partners", "add", "x", PUBLIC_URL, "--header", "nocolon", code=2)
    missing = run("partners", "show", "999", code=1)
    assert missing.strip() == "error: no partner 999"
    assert "nothing to change" in run("partners", "update", "1", code=2)
    assert "use one of" in run("deliveries", "list", "--status", "delivered", code=2)
    assert "--since" in run("partners", "recover", "1", "--since", "yesterday", code=2)
    assert "timezone" in run("partners", "recover", "1", "--since", "2026-11-28T09:00", code=2)
    assert run("deliveries", "show", "5", code=1).strip() == "error: no partner delivery 5"


def test_deliveries_list_show_replay_and_recover(cli_db: Database) -> None:
    partner = run_json("partners", "add", "p", PUBLIC_URL)["id"]
    target = f"partner:{partner}"
    ids = [add_delivery(cli_db, add_event(cli_db, n), target, "failed") for n in range(3)]
    page = run_json("deliveries", "list", "--partner", str(partner), "--limit", "2")
    assert [d["id"] for d in page["items"]] == ids[::-1][:2]
    rest = run_json("deliveries", "list", "--cursor", page["next_cursor"], "--status", "failed")
    assert [d["id"] for d in rest["items"]] == ids[:1] and rest["next_cursor"] is None
    assert "more: syndicator deliveries list --cursor" in run("deliveries", "list", "--limit", "1")
    assert str(ids[0]) in run("deliveries", "show", str(ids[0]))
    replayed = run_json("deliveries", "replay", str(ids[0]))
    assert replayed["status"] == "pending" and replayed["next_trigger"] == "manual"
    assert "due now" in run("deliveries", "replay", str(ids[1]))
    with cli_db.session() as session:
        session.execute(update(Delivery).where(Delivery.id == ids[0]).values(status="failed"))
    recovered = run_json("partners", "recover", str(partner), "--since", "1h")
    assert recovered["resent"] == 2  # ids[0] (failed again) and ids[2]; ids[1] is pending
    with cli_db.session() as session:
        rows = {d.id: (d.status, d.trigger) for d in session.query(Delivery)}
    assert set(rows.values()) == {("pending", "manual")}


def test_ed25519_partners_from_the_command_line(cli_db: Database) -> None:
    created = run_json("partners", "add", "A", PUBLIC_URL, "--signature-scheme", "ed25519")
    assert "secret" not in created and created["public_key"].startswith("whpk_")
    partner = str(created["id"])
    shown = run("partners", "show", partner)
    assert created["public_key"] in shown and "ed25519" in shown
    rotated = run_json("partners", "rotate-secret", partner)
    assert rotated["public_key"] != created["public_key"] and "secret" not in rotated
    back = run_json("partners", "rotate-secret", partner, "--signature-scheme", "v1")
    assert back["signature_scheme"] == "v1" and back["secret"].startswith("whsec_")
    moved = run_json("partners", "update", partner, "--signature-scheme", "ed25519")
    assert moved["signature_scheme"] == "ed25519"
    assert [k["scheme"] for k in moved["signing_keys"]][:2] == ["ed25519", "v1"]
    assert "v1 or ed25519" in run(
        "partners", "rotate-secret", partner, "--signature-scheme", "x", code=2
    )
    plain = run_json("partners", "add", "B", PUBLIC_URL)
    assert plain["signature_scheme"] == "v1" and plain["public_key"] is None

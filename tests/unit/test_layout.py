"""The tree reads in the order data flows: no package imports one that imports it back,
and in workers/ the app never imports the tasks (the relay sends them by name)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "syndicator"


def imported_modules(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def module_name(path: Path, base: Path, prefix: str) -> str:
    parts = path.relative_to(base).with_suffix("").parts
    return ".".join((prefix, *(p for p in parts if p != "__init__")))


def unit_of(module: str) -> str:
    """The package a module belongs to: ``syndicator.feeds.render.model`` -> feeds; loose
    modules (config, logs, cli) are their own unit."""
    parts = module.split(".")
    return ".".join(parts[:2])


def package_graph() -> dict[str, set[str]]:
    """Package -> the packages its modules import (migrations aside: they are history)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        source = unit_of(module_name(path, PACKAGE, "syndicator"))
        targets = {unit_of(m) for m in imported_modules(path) if m.startswith("syndicator.")}
        graph.setdefault(source, set()).update(targets - {source})
    return graph


def test_packages_form_no_cycle() -> None:
    try:
        order = list(TopologicalSorter(package_graph()).static_order())
    except CycleError as exc:
        raise AssertionError(f"package import cycle: {exc.args[1]}") from exc
    for upstream, downstream in [("store", "ledger"), ("ledger", "delivery"), ("intake", "web")]:
        assert order.index(f"syndicator.{upstream}") < order.index(f"syndicator.{downstream}")
    assert order.index("syndicator.events") < order.index("syndicator.feeds")
    assert order.index("syndicator.feeds") < order.index("syndicator.web")


# The pipeline's spine, upstream first: each package may import only these (and the loose
# modules settings, logging and tracing). Intake stores events and lifts a quarantine; the
# ledger knows rows and attempts, never the events' content nor who delivers them; the
# store below them knows neither.
LOOSE = {"syndicator.config", "syndicator.logs", "syndicator.tracing", "syndicator.permissions"}
ALLOWED = {
    "syndicator.store": LOOSE,
    "syndicator.ledger": LOOSE | {"syndicator.store"},
    "syndicator.intake": LOOSE | {"syndicator.store", "syndicator.ledger", "syndicator.events"},
}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_the_spine_imports_only_what_lies_upstream(package: str) -> None:
    extra = package_graph()[package] - ALLOWED[package]
    assert not extra, f"{package} imports {sorted(extra)}, which lie downstream of it"


# Partner webhooks and newsletters are two channels that stay apart: neither side imports
# the other's package, and what the operators are told goes through the ledger's notices
# channel (intake/notices.py), never through a side door to the mail transport.
APART = {
    "syndicator.partners": {"syndicator.mail", "syndicator.subscriptions"},
    "syndicator.mail": {"syndicator.partners"},
    "syndicator.subscriptions": {"syndicator.partners"},
}
APART_MODULES = {
    "channels/webhooks.py": {"syndicator.mail", "syndicator.subscriptions"},
    "channels/webhook_http.py": {"syndicator.mail", "syndicator.subscriptions"},
    "channels/partner_gate.py": {"syndicator.mail", "syndicator.subscriptions"},
    "channels/email.py": {"syndicator.partners"},
    "channels/notices.py": {"syndicator.partners", "syndicator.subscriptions"},
}


@pytest.mark.parametrize("package", sorted(APART))
def test_partners_and_newsletters_stay_apart(package: str) -> None:
    crossing = package_graph()[package] & APART[package]
    assert not crossing, f"{package} imports {sorted(crossing)}"


@pytest.mark.parametrize("module", sorted(APART_MODULES))
def test_each_channel_keeps_to_its_own_side(module: str) -> None:
    units = {unit_of(m) for m in imported_modules(PACKAGE / module)}
    crossing = units & APART_MODULES[module]
    assert not crossing, f"{module} imports {sorted(crossing)}"


def _worker_imports() -> dict[str, set[str]]:
    workers = ROOT / "workers"
    return {
        module_name(path, workers, "workers"): {
            m for m in imported_modules(path) if m.startswith("workers")
        }
        for path in workers.glob("*.py")
    }


def test_the_celery_app_never_imports_the_tasks() -> None:
    graph = _worker_imports()
    seen, stack = set(), ["workers.app"]
    while stack:
        module = stack.pop()
        for imported in graph.get(module, ()):
            if imported not in seen:
                seen.add(imported)
                stack.append(imported)
    assert "workers.tasks" not in seen, seen
    TopologicalSorter(graph).prepare()  # raises CycleError on any cycle in workers/


def test_celery_is_only_imported_in_workers() -> None:
    users = [
        path.relative_to(ROOT)
        for path in PACKAGE.rglob("*.py")
        if any(m.split(".")[0] in {"celery", "kombu"} for m in imported_modules(path))
    ]
    assert users == []


def test_unrelated_modules_do_not_share_a_name() -> None:
    """``app`` is the one exception: the ASGI app and the Celery app, each the convention."""
    src = {p.stem for p in PACKAGE.rglob("*.py") if p.stem != "__init__"}
    workers = {p.stem for p in (ROOT / "workers").glob("*.py") if p.stem != "__init__"}
    assert src & workers <= {"app"}, src & workers


# A URL that leaves the machine (example domains and loopback are placeholders), and a
# tracker's number ("feedgen #135", "issue 42", "GH-7").
OUTSIDE_URL = re.compile(
    r"https?://(?!…|(?:[\w.-]*\.)?example(?:\.\w+)?[/:\"'\s`]|127\.0\.0\.1|localhost|\[::1\]|host[:/])"
)
TRACKER_REF = re.compile(r"(?<![&\w])#\d{2,}\b|\bissue \d+|\bGH-\d+|github\.com", re.IGNORECASE)


def docstrings_and_comments(path: Path) -> Iterator[tuple[int, str]]:
    source = path.read_text(encoding="utf-8")
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            if doc and node.body:
                yield node.body[0].lineno, doc


def test_docstrings_and_comments_cite_nothing_outside_the_repository() -> None:
    """Why the code is as it is, said in its own terms; sources go to docs/development.md."""
    found = []
    for base in (PACKAGE, ROOT / "workers"):
        for path in sorted(base.rglob("*.py")):
            for line, text in docstrings_and_comments(path):
                if OUTSIDE_URL.search(text) or TRACKER_REF.search(text):
                    found.append(f"{path.relative_to(ROOT)}:{line}: {text.strip()[:100]}")
    assert not found, "\n".join(found)


def test_the_citation_check_can_fail() -> None:
    assert TRACKER_REF.search("# feedgen #135 drops them")
    assert OUTSIDE_URL.search("see https://docs.svix.com/retries")
    assert not OUTSIDE_URL.search("``https://partner.example/hooks``")
    assert not TRACKER_REF.search('color "#1f6feb" and &#160;')


# Each process reads its settings once, where it starts, and hands them down: the CLI
# (its root click context), a web worker process (the app factory), a worker or beat
# process (workers/settings.py), and alembic's own command line (migration 0012's keys).
SETTINGS_ENTRY_POINTS = {
    "src/syndicator/commands/output.py",
    "src/syndicator/web/app.py",
    "workers/settings.py",
    "src/syndicator/store/migrations/versions/0012_sealed_partner_secrets.py",
}


def test_settings_are_read_only_where_a_process_starts() -> None:
    calls: dict[str, int] = {}
    for base in (PACKAGE, ROOT / "workers"):
        for path in base.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                # Only a call without a mapping reads the environment (the docs generator
                # passes its own).
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name | ast.Attribute)
                    and getattr(node.func, "id", getattr(node.func, "attr", "")) == "load_settings"
                    and not node.args
                ):
                    name = str(path.relative_to(ROOT))
                    calls[name] = calls.get(name, 0) + 1
    assert set(calls) == SETTINGS_ENTRY_POINTS, sorted(calls)
    assert all(n == 1 for n in calls.values()), calls

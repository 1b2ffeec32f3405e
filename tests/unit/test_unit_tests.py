"""Every module of the delivery path has a unit test that names it:
``src/syndicator/<package>/<module>.py`` -> ``tests/unit/<package>/test_<module>.py``, and
``workers/<module>.py`` -> ``tests/unit/workers/test_<module>.py``. A new module on the path
comes with its test, or this fails."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "syndicator"
UNIT = ROOT / "tests" / "unit"

# Where an event goes from the CMS hook to a receiver.
PACKAGES = ("intake", "ledger", "delivery", "channels")
MODULES = ("partners/throttle.py",)


def delivery_path() -> dict[str, str]:
    """Module path (``package/module.py``) -> the dotted name its test must import."""
    found = {}
    for package in PACKAGES:
        for path in sorted((SRC / package).glob("*.py")):
            if path.stem != "__init__":
                found[f"{package}/{path.name}"] = f"syndicator.{package}.{path.stem}"
    for module in MODULES:
        found[module] = "syndicator." + module.removesuffix(".py").replace("/", ".")
    for path in sorted((ROOT / "workers").glob("*.py")):
        if path.stem != "__init__":
            found[f"workers/{path.name}"] = f"workers.{path.stem}"
    return found


def names(test: Path, dotted: str) -> bool:
    package, _, module = dotted.rpartition(".")
    text = test.read_text(encoding="utf-8")
    imported = re.search(rf"^from {re.escape(package)} import [^\n]*\b{module}\b", text, re.M)
    return dotted in text or imported is not None


@pytest.mark.parametrize("module", sorted(delivery_path()))
def test_each_module_of_the_delivery_path_has_its_unit_test(module: str) -> None:
    package, _, filename = module.rpartition("/")
    test = UNIT / package / f"test_{filename}"
    assert test.exists(), f"{module} has no unit test: write {test.relative_to(ROOT)}"
    assert names(test, delivery_path()[module]), f"{test.name} does not import {module}"


def test_the_path_is_found() -> None:
    found = delivery_path()
    assert {"intake/accept.py", "ledger/claims.py", "delivery/coalescer.py"} <= set(found)
    assert {"channels/webhooks.py", "partners/throttle.py", "workers/tasks.py"} <= set(found)

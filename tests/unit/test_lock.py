"""The locks hold what pyproject.toml asks for, with hashes, and the tests run what they pin.

A failure here after editing pyproject.toml means: run `make lock` (then `make setup`).
"""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DEV_LOCK = ROOT / "requirements" / "dev.lock"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.lock"
BOOTSTRAP_LOCK = ROOT / "requirements" / "bootstrap.lock"
DEV_ONLY = {
    "pytest",
    "hypothesis",
    "ruff",
    "mypy",
    "playwright",
    "uv",
    "check-jsonschema",
    "pip-audit",
}


def _locked(path: Path) -> dict[str, Requirement]:
    """Each pin of a `uv pip compile --generate-hashes` file, by normalised name."""
    pins: dict[str, Requirement] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for line in lines:
        if line and not line[0].isspace() and not line.startswith("#"):
            requirement = Requirement(line.removesuffix("\\").strip())
            pins[canonicalize_name(requirement.name)] = requirement
    return pins


def _hashes_per_pin(path: Path) -> list[int]:
    counts: list[int] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            counts.append(0)
        elif line.strip().startswith("--hash=sha256:"):
            counts[-1] += 1
    return counts


def _pinned_version(requirement: Requirement) -> str:
    (spec,) = requirement.specifier
    assert spec.operator == "==", requirement
    return spec.version


def _wanted(runtime_only: bool) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = list(project["dependencies"])
    if not runtime_only:
        wanted += project["optional-dependencies"]["dev"]
    build = (ROOT / "requirements" / "build.in").read_text(encoding="utf-8").splitlines()
    wanted += [line for line in build if line.strip() and not line.startswith("#")]
    return [Requirement(item) for item in wanted]


@pytest.mark.parametrize(("lock", "runtime_only"), [(DEV_LOCK, False), (RUNTIME_LOCK, True)])
def test_every_requirement_is_locked_at_a_version_it_allows(lock: Path, runtime_only: bool):
    pins = _locked(lock)
    for requirement in _wanted(runtime_only):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in {lock.name}: run `make lock`"
        locked = _pinned_version(pins[name])
        assert requirement.specifier.contains(locked, prereleases=True), (
            f"{lock.name} pins {name}=={locked}, outside {requirement}: run `make lock`"
        )


@pytest.mark.parametrize("lock", [DEV_LOCK, RUNTIME_LOCK, BOOTSTRAP_LOCK])
def test_every_pin_has_a_hash(lock: Path) -> None:
    counts = _hashes_per_pin(lock)
    assert counts and all(counts), lock


def test_the_runtime_lock_is_the_dev_lock_without_the_tools() -> None:
    dev, runtime = _locked(DEV_LOCK), _locked(RUNTIME_LOCK)
    assert not DEV_ONLY & runtime.keys(), DEV_ONLY & runtime.keys()
    assert runtime.keys() <= dev.keys(), runtime.keys() - dev.keys()
    differ = {
        name: (_pinned_version(pin), _pinned_version(dev[name]))
        for name, pin in runtime.items()
        if _pinned_version(pin) != _pinned_version(dev[name])
    }
    assert not differ, f"production would run other versions than the tests: {differ}"


def test_the_tests_run_what_the_dev_lock_pins() -> None:
    stale = {}
    for name, pin in _locked(DEV_LOCK).items():
        if pin.marker is not None and not pin.marker.evaluate():
            continue  # another platform's or Python's dependency
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = None
        if installed != _pinned_version(pin):
            stale[name] = (installed, _pinned_version(pin))
    assert not stale, f"installed vs locked {stale}: run `make setup`"


def test_setup_bootstraps_the_uv_the_dev_lock_pins() -> None:
    """pip installs uv alone (requirements/bootstrap.in says why), and the same uv."""
    bootstrap, dev = _locked(BOOTSTRAP_LOCK), _locked(DEV_LOCK)
    assert bootstrap.keys() == {"uv"}, bootstrap.keys()
    assert _pinned_version(bootstrap["uv"]) == _pinned_version(dev["uv"]), "run `make lock`"

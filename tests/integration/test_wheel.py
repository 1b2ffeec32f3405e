"""A wheel built and installed into a fresh virtualenv, without -e, serves a page."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.services import free_port
from tests.system import wait_for

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"


def run(*args: str | Path, cwd: Path | None = None) -> None:
    subprocess.run([str(a) for a in args], check=True, cwd=cwd, timeout=600, capture_output=True)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not UV.exists():
        pytest.skip("uv is not installed (make setup installs it)")
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--wheel", "--out-dir", out, ROOT)
    (built,) = out.glob("syndicator-*.whl")
    return built


def test_the_wheel_carries_the_templates_and_the_demo(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "syndicator/_templates/site/home.html" in names
    assert "syndicator/_demo/releases/867.json" in names
    assert "workers/app.py" in names


def test_an_installed_wheel_serves_the_home_page(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(UV, "venv", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    run(UV, "pip", "install", "--python", python, "-r", ROOT / "requirements" / "runtime.lock")
    run(UV, "pip", "install", "--python", python, "--no-deps", wheel)
    # Run from elsewhere, so nothing can come from the checkout.
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))},
        "SYNDICATOR_DATA_DIR": str(workdir / "var"),
    }
    syndicator = venv / "bin" / "syndicator"
    subprocess.run([syndicator, "migrate"], check=True, env=env, cwd=workdir, timeout=120)
    port = free_port()
    web = subprocess.Popen(
        [syndicator, "web", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        page = wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{port}/", timeout=2),
            seconds=60,
            what="the installed web app",
        )
        assert page.status_code == 200 and 'lang="ko"' in page.text
        origin = subprocess.run(
            [python, "-c", "import syndicator.config as c; print(c.TEMPLATES_DIR)"],
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert origin.startswith(str(venv)), origin
    finally:
        web.terminate()
        web.wait(timeout=30)
    shutil.rmtree(venv, ignore_errors=True)

"""`make audit` (scripts/audit_locks.py): the real pip-audit over a hash-pinned lock, its
vulnerability data from a local OSV stand-in, so each verdict can be staged: a fixable
vulnerability fails, one without a fix does not, and an audit that reached no vulnerability
data is not taken for a clean one."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PINNED = ("jinja2", "h11")


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "audit_locks", ROOT / "scripts" / "audit_locks.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


audit_locks = _load_script()


def _osv_entry(package: str, vuln_id: str, fixed: str | None) -> dict[str, Any]:
    events: list[dict[str, str]] = [{"introduced": "0"}]
    if fixed:
        events.append({"fixed": fixed})
    return {
        "id": vuln_id,
        "summary": f"staged advisory for {package}",
        "affected": [
            {
                "package": {"name": package, "ecosystem": "PyPI"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
    }


@pytest.fixture
def osv() -> Iterator[tuple[str, dict[str, list[dict[str, Any]]]]]:
    """An OSV /v1/query stand-in: package name -> the advisories it answers with."""
    advisories: dict[str, list[dict[str, Any]]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = json.loads(self.rfile.read(int(self.headers["content-length"])))
            found = advisories.get(query["package"]["name"], [])
            body = json.dumps({"vulns": found} if found else {}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query", advisories
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    """Two pins of the dev lock, with their hashes, as `make lock` wrote them."""
    kept: list[str] = []
    keeping = False
    for line in (ROOT / "requirements" / "dev.lock").read_text(encoding="utf-8").splitlines():
        if line and not line[0].isspace():
            keeping = line.split("==")[0] in PINNED
        if keeping and not line.lstrip().startswith("#"):
            kept.append(line)
    path = tmp_path / "sample.lock"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return path


def _audit(lock: Path, url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = audit_locks.main([str(lock), "--vulnerability-service", "osv", "--osv-url", url])
    return code, capsys.readouterr().out


def test_a_vulnerability_with_a_fixed_version_fails_and_names_the_move(osv, lock, capsys):
    url, advisories = osv
    advisories["jinja2"] = [_osv_entry("jinja2", "GHSA-stag-ed00-0001", "99.0")]
    code, out = _audit(lock, url, capsys)
    assert code == 1, out
    assert "FIXABLE  jinja2" in out and "fixed in 99.0" in out
    assert '--upgrade-package jinja2"' in out


def test_a_vulnerability_without_a_fix_is_printed_and_passes(osv, lock, capsys):
    url, advisories = osv
    advisories["h11"] = [_osv_entry("h11", "GHSA-stag-ed00-0002", None)]
    code, out = _audit(lock, url, capsys)
    assert code == 0, out
    assert "no fix   h11" in out and "GHSA-stag-ed00-0002" in out


def test_a_clean_audit_passes_and_says_how_much_it_checked(osv, lock, capsys):
    url, _ = osv
    code, out = _audit(lock, url, capsys)
    assert code == 0, out
    assert f"audited {len(PINNED)} pinned packages" in out


def test_a_fix_fails_even_beside_an_unfixed_one(osv, lock, capsys):
    url, advisories = osv
    advisories["h11"] = [_osv_entry("h11", "GHSA-stag-ed00-0002", None)]
    advisories["jinja2"] = [_osv_entry("jinja2", "GHSA-stag-ed00-0001", "99.0")]
    code, out = _audit(lock, url, capsys)
    assert code == 1, out


def test_a_service_that_fails_fails_the_audit(lock, capsys, tmp_path):
    # Nothing listens there: pip-audit cannot query, and that is no clean bill.
    code = audit_locks.main(
        [str(lock), "--vulnerability-service", "osv", "--osv-url", "http://127.0.0.1:9/v1/query"]
    )
    assert code == 2


def test_an_audit_that_reached_no_vulnerability_data_fails_unless_allowed():
    # Recorded on the development sandbox, which reaches the package index but whose
    # proxy answers 404 for PyPI's per-version JSON: every pin "not found", none audited.
    sample = ROOT / "tests" / "integration" / "samples" / "pip_audit_unreachable.json"
    verdict = audit_locks.judge(json.loads(sample.read_text(encoding="utf-8")))
    assert verdict.audited == 0 and set(verdict.unaudited) == {"celery", "h11", "jinja2"}
    assert verdict.exit_code(allow_unaudited=False) == 2
    assert verdict.exit_code(allow_unaudited=True) == 0
    lines = audit_locks.report_lines(verdict, allow_unaudited=True)
    assert any(line.startswith("NOT AUDITED (allowed): 3 packages") for line in lines)

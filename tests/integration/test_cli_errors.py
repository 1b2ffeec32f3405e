"""The CLI fails in one line that names the fix; --debug brings the traceback back."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx

from syndicator.store.migrate import upgrade
from tests.factories import make_event
from tests.system import run_cli


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    defaults = {"SYNDICATOR_DATA_DIR": str(tmp_path / "var")}
    return run_cli(*args, **{**defaults, "SYNDICATOR_REDIS_URL": "redis://127.0.0.1:1/0", **env})


def test_status_before_migrate_says_run_migrate(tmp_path: Path) -> None:
    result = cli(tmp_path, "status")
    assert result.returncode == 1
    assert "run: syndicator migrate" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    debug = cli(tmp_path, "--debug", "status")
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_a_bad_setting_is_one_line_naming_the_variable_and_its_form(tmp_path: Path) -> None:
    result = cli(tmp_path, "status", SYNDICATOR_WEBHOOK_TIMEOUT="soon")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "error: SYNDICATOR_WEBHOOK_TIMEOUT='soon': expected a number of seconds > 0"
    )
    assert "Traceback" not in result.stderr + result.stdout


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    result = cli(tmp_path, "migrate", SYNDICATOR_DATABASE_URL="postgresql://u:s3cret@127.0.0.1:1/x")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "SYNDICATOR_DATABASE_URL" in errors[0]
    assert "s3cret" not in result.stderr and "Traceback" not in result.stderr


class _ProxyError(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        body = b"<html><body>502 Bad Gateway</body></html>"
        self.send_response(502)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_publish_shows_a_non_json_answer_as_it_came(tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _ProxyError)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    event = tmp_path / "event.json"
    event.write_text(json.dumps(make_event(1), ensure_ascii=False), encoding="utf-8")
    try:
        url = f"http://127.0.0.1:{server.server_port}/hooks/cms"
        result = cli(
            tmp_path, "publish", str(event), "--url", url, SYNDICATOR_CMS_SECRET="whsec_" + "A" * 43
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1
    assert "HTTP 502" in result.stderr and "502 Bad Gateway</body>" in result.stderr
    assert "Traceback" not in result.stderr


def test_web_runs_several_worker_processes(tmp_path: Path) -> None:
    from tests.processes import children_of, wait_for, web_node

    url = f"sqlite:///{tmp_path / 'web.db'}"
    upgrade(url)
    env = {
        **os.environ,
        "SYNDICATOR_DATA_DIR": str(tmp_path / "var"),
        "SYNDICATOR_DATABASE_URL": url,
        "SYNDICATOR_REDIS_URL": "redis://127.0.0.1:1/0",
    }
    with web_node(env, tmp_path / "web.log", "--workers", "2") as web:
        page = wait_for(lambda: httpx.get(f"{web.url}/", timeout=2), 60, "the web workers")
        assert page.status_code == 200
        # uvicorn's supervisor plus its two serving processes (and a resource tracker).
        wait_for(lambda: len(children_of(web.process.pid)) >= 2, 60, "two worker processes")

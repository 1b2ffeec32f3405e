"""Across machines, as compose describes: the web on one "host", the workers and beat on
another, and an import from a third, each with its own data directory, sharing only
PostgreSQL and Redis. Every publish and import is served by the web within seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

from syndicator.channels.registry import CHANNEL_QUEUES
from syndicator.events.signing import sign_headers
from tests.factories import make_event
from tests.integration.test_compose import COMPOSE_FILE, _command, _load_yaml
from tests.processes import stop as stop_processes
from tests.processes import wait_for
from tests.services import free_port

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "releases"


def compose_command(service: str, data_dir: Path, port: int) -> list[str]:
    """The service's command from compose.yaml, with this host's paths and port."""
    command = _command(_load_yaml(COMPOSE_FILE)["services"][service])
    command = [part.replace("/app/var", str(data_dir)) for part in command]
    if command[0] == "syndicator":
        command = [sys.executable, "-m", "syndicator", *command[1:]]
        if "--port" in command:
            command[command.index("--port") + 1] = str(port)
            command[command.index("--host") + 1] = "127.0.0.1"
    elif command[0] == "celery":
        command = [sys.executable, "-m", "celery", *command[1:]]
    return command


class Host:
    """One machine's worth of processes: its own data directory, the shared services."""

    def __init__(self, name: str, tmp_path: Path, env: dict[str, str]) -> None:
        self.data_dir = tmp_path / name
        self.data_dir.mkdir()
        self.env = {**os.environ, **env, "SYNDICATOR_DATA_DIR": str(self.data_dir)}
        self.log = tmp_path / f"{name}.log"
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, service: str, port: int = 0) -> None:
        with self.log.open("ab") as log:
            self.processes.append(
                subprocess.Popen(
                    compose_command(service, self.data_dir, port),
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "syndicator", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def stop(self) -> None:
        stop_processes(self.processes, timeout=60)


@pytest.fixture
def shared(
    tmp_path: Path, database_url: str, redis_url: str, cms_secret: str
) -> Iterator[dict[str, Any]]:
    if not database_url.startswith("postgresql"):
        pytest.skip("several hosts share PostgreSQL; SQLite is one host's database")
    port = free_port()
    env = {
        "SYNDICATOR_DATABASE_URL": database_url,
        "SYNDICATOR_REDIS_URL": redis_url,
        "SYNDICATOR_CMS_SECRET": cms_secret,
        "SYNDICATOR_ADMIN_TOKEN": "admin-token-for-tests",
        "SYNDICATOR_BASE_URL": f"http://127.0.0.1:{port}",
    }
    web, workers, ops = (Host(n, tmp_path, env) for n in ("web", "workers", "ops"))
    try:
        yield {"web": web, "workers": workers, "ops": ops, "port": port}
    finally:
        for host in (web, workers, ops):
            host.stop()


def rss_titles(http: httpx.Client, path: str = "/feeds/rss.xml") -> list[str]:
    answer = http.get(path)
    if answer.status_code != 200:
        return []
    parsed = feedparser.parse(answer.content)
    assert not parsed.bozo, parsed.bozo_exception
    return [entry.title for entry in parsed.entries]


def test_web_serves_what_workers_and_imports_on_other_hosts_render(shared: dict[str, Any]):
    web, workers, ops = shared["web"], shared["workers"], shared["ops"]
    early = web.run("web", "--port", str(shared["port"]))  # before migrate: refuses to start
    assert early.returncode != 0 and "run: syndicator migrate" in early.stderr + early.stdout
    migrated = ops.run("migrate")
    assert migrated.returncode == 0, migrated.stderr
    web.start("web", shared["port"])
    for queue in CHANNEL_QUEUES:  # compose runs a worker service per channel queue
        workers.start(f"worker-{queue}")
    workers.start("beat")
    url = f"http://127.0.0.1:{shared['port']}"
    with httpx.Client(base_url=url, timeout=10) as http:
        wait_for(
            lambda: http.get("/readyz/pipeline").status_code == 200,
            seconds=120,
            what="workers and beat on the other host",
        )
        event = make_event(9001, department="신설부서", title="다른 호스트에서 렌더한 보도자료")
        raw = json.dumps(event, ensure_ascii=False).encode()
        headers = {
            "content-type": "application/json",
            **sign_headers(web.env["SYNDICATOR_CMS_SECRET"], raw),
        }
        assert http.post("/hooks/cms", content=raw, headers=headers).status_code == 202
        title = event["release"]["title"]
        wait_for(lambda: title in rss_titles(http), what="the publish served by the web")
        # The site's own feeds are stored first, the index and other scopes a step later
        # (feeds/publish.py): a reader may see the one before the other.

        def new_department() -> dict[str, Any] | None:
            answer = http.get("/feeds/index.json")
            if answer.status_code != 200:
                return None
            found = [d for d in answer.json()["departments"] if d["name"] == "신설부서"]
            return found[0] if found else None

        department = wait_for(new_department, what="the index to list the new department")
        assert title in rss_titles(http, department["rss"].removeprefix(url))

        imported = ops.run("import", str(DEMO))
        assert imported.returncode == 0, imported.stderr
        wait_for(lambda: len(rss_titles(http)) == 20, what="the import served by the web")
    # Nothing was written into the web's or the ops host's data directory as feeds.
    for host in (web, ops):
        assert not list(host.data_dir.rglob("*.xml")), host.data_dir

"""`syndicator run --port P` without SYNDICATOR_BASE_URL: every link, and `publish`, use P."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from lxml import etree

from syndicator.config import DEFAULT_PORT
from tests.system import RunningSystem, system_env, wait_for

DEMO = Path(__file__).resolve().parents[2] / "demo" / "releases"
ATOM_LINK = "{http://www.w3.org/2005/Atom}link"


def test_links_and_publish_follow_the_port_when_no_base_url_is_set(
    tmp_path, sqlite_url, redis_url, cms_secret
):
    env = system_env(tmp_path, sqlite_url, redis_url, cms_secret)
    system = RunningSystem(env, tmp_path / "system.log", set_base_url=False)
    assert "SYNDICATOR_BASE_URL" not in system.env and system.port != DEFAULT_PORT
    try:
        system.start()
        publish = ["publish", "--port", str(system.port), str(DEMO / "867.json")]
        published = subprocess.run(
            [sys.executable, "-m", "syndicator", *publish],
            env=system.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert published.returncode == 0, published.stdout + published.stderr
        assert '"status": "applied"' in published.stdout

        def atom_links() -> dict[str, str] | None:
            response = system.get("/feeds/atom.xml")
            if response.status_code != 200:
                return None
            root = etree.fromstring(response.content)
            return {link.get("rel", ""): link.get("href", "") for link in root.iter(ATOM_LINK)}

        links = wait_for(atom_links, what="the published release's Atom feed")
        assert links["self"] == f"{system.url}/feeds/atom.xml"
        home = system.get("/")
        absolute = set(re.findall(r'href="(https?://127\.0\.0\.1[^"]*)"', home.text))
        assert f"{system.url}/feeds/rss.xml" in absolute, absolute
        assert all(href.startswith(f"{system.url}/") for href in absolute), absolute
    finally:
        system.stop()
    log = system.log()
    assert f"{system.url}/feeds/rss.xml" in log
    assert f"syndicator publish --port {system.port}" in log
    assert "Traceback" not in log

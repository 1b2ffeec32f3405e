"""deploy/nginx/nginx.conf, run by the real nginx in front of the real app.

The file is rendered for the test: the upstream becomes the app's address, nginx listens
on a free loopback port, its pid, cache and temporary files go under tmp, and the header
timeout is 1 s so that a slow client is dropped quickly. Every replaced line must be in the
file exactly once, so the test cannot silently run something other than what compose runs.
"""

from __future__ import annotations

import gzip
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from syndicator.config import Settings, load_settings
from syndicator.feeds.publish import rebuild_all
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.web.app import create_app
from tests.integration.feeds_support import event, store
from tests.live_server import serve
from tests.services import free_port
from tests.system import wait_for

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "nginx.conf"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
)
pytestmark = pytest.mark.skipif(
    NGINX is None, reason="no nginx binary (apt-get install nginx; .ci/run installs it)"
)

SHORT_LIVED = "/feeds/atom.xml"  # the recorder shortens its max-age to see a revalidation
# httpx asks for gzip by default; nginx then serves a weak ETag (W/"…") of the compressed
# bytes. Identity shows the app's own strong ETag, the one nginx revalidates with.
IDENTITY = {"Accept-Encoding": "identity"}


def render(config: str, tmp: Path, upstream: str, listen: str, header_timeout: str) -> str:
    """``config`` to run unprivileged-safe from ``tmp``: each replaced line must exist once."""
    user = pwd.getpwuid(os.geteuid()).pw_name
    temp_paths = "".join(
        f"    {kind}_temp_path {tmp / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    replacements = {
        # As root, workers would drop to `nginx`, who may not exist here or read tmp.
        "user nginx;\n": f"user {user};\n" if os.geteuid() == 0 else "",
        "worker_processes auto;": "worker_processes 1;",
        "pid /var/run/nginx.pid;": f"pid {tmp / 'nginx.pid'};",
        "proxy_cache_path /var/cache/nginx/feeds ": f"proxy_cache_path {tmp / 'cache'} ",
        "http {\n": "http {\n" + temp_paths,
        "server web:8000;": f"server {upstream};",
        "listen 80 default_server;": f"listen {listen} default_server;",
        "client_header_timeout 10s;": f"client_header_timeout {header_timeout};",
    }
    for old, new in replacements.items():
        assert config.count(old) == 1, f"{CONFIG} should contain {old!r} exactly once"
        config = config.replace(old, new)
    return config


def write_config(tmp: Path, upstream: str, listen: str, header_timeout: str = "10s") -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "nginx.conf"
    path.write_text(render(CONFIG.read_text(), tmp, upstream, listen, header_timeout))
    return path


def test_the_front_config_passes_nginx_t(tmp_path: Path) -> None:
    assert NGINX is not None
    conf = write_config(tmp_path, "127.0.0.1:9", f"127.0.0.1:{free_port()}")
    check = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stderr
    assert "test is successful" in check.stderr


def test_nginx_t_rejects_a_broken_config(tmp_path: Path) -> None:
    assert NGINX is not None
    conf = write_config(tmp_path, "127.0.0.1:9", f"127.0.0.1:{free_port()}")
    conf.write_text(conf.read_text().replace("client_max_body_size 1m;", "client_max_body 1m;"))
    check = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode != 0 and "client_max_body" in check.stderr


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    client: Any
    scheme: str
    status: int | None = None


@dataclass
class Recorder:
    """ASGI middleware: what reached the app, and what it answered."""

    app: Any
    seen: list[Seen] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        record = Seen(scope["path"], headers, scope.get("client"), scope["scheme"])
        self.seen.append(record)

        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                if scope["path"] == SHORT_LIVED:
                    message = {**message, "headers": _max_age_1(message["headers"])}
            await send(message)

        await self.app(scope, receive, recording_send)

    def requests_for(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]


def _max_age_1(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(k, b"public, max-age=1" if k == b"cache-control" else v) for k, v in headers]


@dataclass
class Front:
    url: str
    port: int
    recorder: Recorder
    log: Path


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    assert NGINX is not None
    tmp = tmp_path_factory.mktemp("front")
    settings: Settings = load_settings(
        {
            "SYNDICATOR_DATA_DIR": str(tmp / "var"),
            "SYNDICATOR_DATABASE_URL": f"sqlite:///{tmp / 'syndicator.db'}",
            "SYNDICATOR_BASE_URL": "https://press.example.kr",
        }
    )
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    store(db, (event(n) for n in range(1, 9)))
    rebuild_all(db, settings)
    db.dispose()
    recorder = Recorder(create_app(settings))
    port = free_port()
    log = tmp / "nginx.log"
    with serve(recorder) as app_url, log.open("wb") as output:
        conf = write_config(
            tmp / "nginx", app_url.removeprefix("http://"), f"127.0.0.1:{port}", "1s"
        )
        nginx = subprocess.Popen(
            [NGINX, "-p", str(tmp / "nginx"), "-c", str(conf), "-g", "daemon off;"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: _accepts(port, nginx, log), 30, "nginx to listen")
            yield Front(f"http://127.0.0.1:{port}", port, recorder, log)
        finally:
            nginx.terminate()
            try:
                nginx.wait(timeout=30)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait()


def _accepts(port: int, nginx: subprocess.Popen[bytes], log: Path) -> bool:
    if nginx.poll() is not None:
        raise AssertionError(f"nginx exited:\n{log.read_text(errors='replace')}")
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def client(front: Front) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=front.url, timeout=30) as http:
        yield http


def test_a_feed_passes_through_with_its_etag_then_comes_from_the_cache(front, client):
    first = client.get("/feeds/rss.xml", headers=IDENTITY)
    assert first.status_code == 200, first.text
    assert first.headers["x-cache-status"] == "MISS"
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')  # the app's strong ETag, untouched
    assert first.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert "max-age" in first.headers["cache-control"]

    second = client.get("/feeds/rss.xml", headers=IDENTITY)
    assert second.headers["x-cache-status"] == "HIT"
    assert second.content == first.content and second.headers["etag"] == etag
    assert len(front.recorder.requests_for("/feeds/rss.xml")) == 1

    # The client's own conditional request is answered from the cache.
    again = client.get("/feeds/rss.xml", headers={**IDENTITY, "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["x-cache-status"] == "HIT"
    assert len(front.recorder.requests_for("/feeds/rss.xml")) == 1


def test_the_app_sees_forwarded_headers_set_by_the_front(front, client):
    client.get(
        "/feeds/feed.json", headers={"Host": "press.example.kr", "X-Forwarded-For": "6.6.6.6"}
    )
    (seen,) = front.recorder.requests_for("/feeds/feed.json")
    assert seen.headers["host"] == "press.example.kr"
    assert seen.headers["x-forwarded-for"] == "127.0.0.1"  # the peer, not the client's claim
    assert seen.headers["x-forwarded-proto"] == "http"
    assert "accept-encoding" not in seen.headers  # nginx compresses, from one cached copy


def test_gzip_is_applied_when_asked(client):
    path = "/feeds/departments/gwangwanggwa/rss.xml"
    plain = client.get(path, headers=IDENTITY)
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    with client.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as packed:
        assert packed.headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in packed.headers["vary"]
        assert packed.headers["etag"] == f"W/{plain.headers['etag']}"
        body = b"".join(packed.iter_raw())
    assert gzip.decompress(body) == plain.content


def test_a_64_kb_cookie_is_refused(front, client):
    answer = client.get("/?big-cookie", headers={"Cookie": "session=" + "x" * 65536})
    assert answer.status_code in (400, 494), answer.status_code
    assert not [s for s in front.recorder.seen if "cookie" in s.headers]


def test_a_2_mb_body_is_refused_before_it_reaches_the_app(front, client):
    hook = {"Content-Type": "application/json"}
    before = len(front.recorder.requests_for("/hooks/cms"))
    answer = client.post("/hooks/cms", content=b" " * (2 * 1024 * 1024), headers=hook)
    assert answer.status_code == 413
    assert len(front.recorder.requests_for("/hooks/cms")) == before
    # The limits agree: a body of exactly 1 MiB passes the front; the app judges it.
    answer = client.post("/hooks/cms", content=b" " * (1024 * 1024), headers=hook)
    assert answer.status_code != 413 and answer.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert len(front.recorder.requests_for("/hooks/cms")) == before + 1


@pytest.mark.parametrize(
    ("path", "cap", "media"),
    [
        ("/api/partners", 256 * 1024, "application/json"),
        ("/subscriptions", 64 * 1024, "application/x-www-form-urlencoded"),
        ("/ops/login", 64 * 1024, "application/x-www-form-urlencoded"),
    ],
)
def test_each_location_caps_bodies_as_the_app_does(front, client, path, cap, media):
    before = len(front.recorder.requests_for(path))
    over = client.post(path, content=b"a" * (cap + 1), headers={"Content-Type": media})
    assert over.status_code == 413
    assert len(front.recorder.requests_for(path)) == before
    # At the cap the body passes the front, and the app judges it (no token: not a 413).
    at = client.post(path, content=b"a" * cap, headers={"Content-Type": media})
    assert at.status_code != 413
    assert len(front.recorder.requests_for(path)) == before + 1


def test_every_answer_carries_hsts_once(front, client):
    """nginx's own answers too (a 413), feeds from the cache, and pages whose app answer
    already had it (the app's base URL is https): one header, never two."""
    answers = [
        client.get("/feeds/rss.xml"),
        client.get("/feeds/rss.xml"),  # from the cache
        client.get("/healthz"),
        client.get("/no/such/page"),
        client.post("/subscriptions", content=b"a" * (65 * 1024)),
        client.get("/api/partners"),
    ]
    assert answers[1].headers["x-cache-status"] == "HIT"
    assert answers[4].status_code == 413
    for answer in answers:
        hsts = answer.headers.get_list("strict-transport-security")
        assert hsts == ["max-age=63072000"], (answer.url, answer.status_code, hsts)


def test_a_client_sending_its_head_byte_by_byte_is_dropped(front):
    head = b"GET /feeds/rss.xml HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 10_000
    closed = False
    with socket.create_connection(("127.0.0.1", front.port), timeout=0.2) as sock:
        deadline = time.monotonic() + 30  # a bound; the rendered timeout is 1 s
        for byte in head:
            if time.monotonic() > deadline:
                break
            try:
                sock.sendall(bytes([byte]))
                if sock.recv(1024) == b"":  # a 408, if any, comes before the end
                    closed = True
                    break
            except TimeoutError:
                continue  # nothing to read yet: send the next byte
            except OSError:  # reset, or a broken pipe on send
                closed = True
                break
    assert closed, "nginx kept a connection that never finished its head"


def test_a_stale_feed_is_revalidated_with_a_conditional_request(front, client):
    """The recorder makes the app say max-age=1 for the Atom feed: once stale, nginx asks
    again with If-None-Match and the app's 304 refreshes the cached copy."""
    etag = client.get(SHORT_LIVED, headers=IDENTITY).headers["etag"]

    def revalidated() -> bool:
        client.get(SHORT_LIVED, headers=IDENTITY)
        return any(
            s.headers.get("if-none-match") == etag and s.status == 304
            for s in front.recorder.requests_for(SHORT_LIVED)
        )

    wait_for(revalidated, 30, "nginx to revalidate the stale feed")
    served = client.get(SHORT_LIVED, headers=IDENTITY)
    assert served.status_code == 200 and served.headers["etag"] == etag


def test_the_access_log_never_holds_a_token(front):
    """The front server's log line for every request that carries a token shows the route,
    never the token; other requests are logged as they came."""
    from tests.integration.test_token_logging import CARRIERS, send_raw

    tokens = [f"eyJ{n}abc.Z{n}xyzw.sig{n}_-AAAAAAAAAAAAAAAAAAAAAAA" for n in range(3)]
    for token in tokens:
        for carrier in CARRIERS:
            send_raw(front.port, "GET", carrier.format(token))
    send_raw(front.port, "GET", "/feeds/rss.xml?page=2")
    wait_for(lambda: "/feeds/rss.xml?page=2" in front.log.read_text(), 30, "the last line")
    text = front.log.read_text(errors="replace")
    assert not any(token in text for token in tokens)
    assert '"GET /preferences/[redacted] HTTP/1.1"' in text
    assert text.count("[redacted]") >= len(tokens) * len(CARRIERS)

"""`syndicator run`: everything on one machine, embedded Redis unless one is configured."""

from __future__ import annotations

import functools
import logging
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
from rich.console import Console
from rich.rule import Rule

from syndicator.channels.registry import ALL_QUEUES, EVENTS_QUEUE
from syndicator.channels.webhooks import WebhooksChannel
from syndicator.config import DEMO_DIR, Settings, local_base_url, redact_url
from syndicator.events.files import read_events
from syndicator.events.signing import generate_secret, sign_headers
from syndicator.feeds.publish import rebuild_all
from syndicator.intake.accept import import_events
from syndicator.intake.outbox import relay_again_unplanned
from syndicator.logs import kv
from syndicator.permissions import private_dir
from syndicator.runtime.celery_commands import beat_command, worker_command
from syndicator.runtime.embedded_redis import EmbeddedRedis
from syndicator.runtime.liveness import release_lost
from syndicator.runtime.redis_urls import BEAT_LOCK_KEY, redis_client, redis_place
from syndicator.runtime.secrets import ensure_secret, random_token
from syndicator.runtime.supervisor import Child, Supervisor
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade
from syndicator.store.sealed import generate_key

__all__ = ["DEMO_DIR", "RUN_WORKERS", "generated_secrets", "launch", "load_demo", "with_generated"]

log = logging.getLogger("syndicator.run")

ALLOWED_NETWORKS = "SYNDICATOR_WEBHOOK_ALLOWED_NETWORKS"
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")
WEBHOOKS_QUEUE = WebhooksChannel.queue
# How long the banner waits for workers and beat to be ready before it prints anyway.
PIPELINE_WAIT_SECONDS = 60.0


# Secrets `syndicator run` generates when the environment gives none: (variable, file, maker).
_GENERATED_SECRETS: tuple[tuple[str, str, Callable[[], str]], ...] = (
    ("SYNDICATOR_CMS_SECRET", "cms_secret", generate_secret),
    ("SYNDICATOR_ADMIN_TOKEN", "admin_token", random_token),
    ("SYNDICATOR_TOKEN_KEYS", "token_key", random_token),
    ("SYNDICATOR_ENCRYPTION_KEYS", "encryption_key", generate_key),
)


# `syndicator run`'s two workers: (child name, Celery hostname, queues, processes).
# Partners' webhooks get a worker of their own. Sharing one pool, a fan-out waited its
# turn behind renders and batches that top themselves up for seconds, since a worker
# takes from its queues in turn: a burst was planned, and so delivered, a few releases at
# a time (bench/webhooks.py, `syndicator run`). Two webhook processes, as compose runs
# them: 400 in flight; one was slower in the same runs. They take fan-outs too, when the
# other worker is busy. The other worker keeps two processes, so a feed render and a
# newsletter batch at once still leave a fan-out somewhere to run.
RUN_WORKERS: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    ("worker", "syndicator@%h", tuple(q for q in ALL_QUEUES if q != WEBHOOKS_QUEUE), 2),
    ("webhooks", "webhooks@%h", (WEBHOOKS_QUEUE, EVENTS_QUEUE), 2),
)


def _children(host: str, port: int) -> list[Child]:
    workers = [
        Child(name, worker_command(queues, processes, ["--hostname", hostname]))
        for name, hostname, queues, processes in RUN_WORKERS
    ]
    return [
        Child(
            "web", [sys.executable, "-m", "syndicator", "web", "--host", host, "--port", str(port)]
        ),
        *workers,
        Child("beat", beat_command()),
    ]


def _wait_answer(url: str, seconds: float) -> bool:
    """Whether ``url`` answers 200 within ``seconds`` (a start-up bound, polled)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


# How long the web process may take to answer its first /healthz: a bound, not a wait (it
# is polled). Generous, since it starts beside the workers' and beat's own start-ups, and
# 30 s was seen to run out on a busy 2-core machine.
WEB_START_SECONDS = 120.0


def _wait_healthy(url: str, seconds: float = WEB_START_SECONDS) -> None:
    if not _wait_answer(f"{url}/healthz", seconds):
        raise RuntimeError(f"the web app did not answer at {url}/healthz")


def load_demo(
    settings: Settings, web_url: str, console: Console, demo_dir: Path = DEMO_DIR
) -> None:
    """Backfill all but the newest demo release, then publish that one through the hook,
    so the demo shows both paths: a quiet import and a live fan-out."""
    events = sorted(read_events([demo_dir]), key=lambda e: e.release.published_at)
    *past, newest = events
    with Database(settings.database_url) as db:
        import_events(db, past)
        rebuild_all(db, settings)
    body = newest.model_dump_json().encode()
    msg_id = f"demo-{newest.release.id}-{int(newest.release.updated_at.timestamp())}"
    assert settings.cms_secret
    headers = {
        "content-type": "application/json",
        **sign_headers(settings.cms_secret, body, msg_id=msg_id),
    }
    answer = httpx.post(f"{web_url}/hooks/cms", content=body, headers=headers, timeout=10)
    answer.raise_for_status()
    console.print(
        f"[green]데모 보도자료 {len(events)}건을 불러왔습니다[/] "
        f"(backfilled {len(past)}, published #{newest.release.id}: "
        f"{answer.json()['status']})"
    )


def launch(settings: Settings, host: str, port: int, demo: bool, console: Console) -> int:
    """Run everything until Ctrl-C. ``settings`` are the ones `syndicator run` read; what this
    run adds (generated secrets, the embedded Redis) goes into them and into the children's
    environment alike, so no process here reads the environment a second time."""
    private_dir(settings.data_dir)
    env = dict(os.environ)
    env["SYNDICATOR_DATA_DIR"] = str(settings.data_dir)
    # Every child renders links from it: without SYNDICATOR_BASE_URL, this run's own address.
    env["SYNDICATOR_BASE_URL"] = settings.base_url
    # Before migrating: a migration may seal stored secrets with the encryption key.
    generated = generated_secrets(settings.secrets_dir, env)
    env.update(generated)
    settings = with_generated(settings, generated)
    upgrade(settings.database_url, encryption_keys=settings.encryption_keys)
    # Before any worker starts, what a crash or a power cut of the last run left behind
    # goes back at once: its workers' claims, and fan-outs its broker may have lost.
    with Database(settings.database_url) as db:
        release_lost(db, settings.worker_stale_after)
        with db.session() as session:
            again = relay_again_unplanned(session)
        if again:
            log.info(kv(msg="unplanned events relayed again", count=again))
    if demo and not settings.webhook_allowed_networks:
        # The demo's partners are receivers on this machine; a real run keeps the guard.
        env[ALLOWED_NETWORKS] = " ".join(LOOPBACK_NETWORKS)
        settings = settings.with_(webhook_allowed_networks=LOOPBACK_NETWORKS)
    embedded = None
    if settings.embedded_redis:
        embedded = EmbeddedRedis(settings.embedded_redis_dir, settings.embedded_redis_socket)
        env["SYNDICATOR_REDIS_URL"] = embedded.start()
        settings = settings.with_(redis_url=env["SYNDICATOR_REDIS_URL"])
        # This run's own Redis: a beat lock in it is the last run's, whose beat is dead
        # (a crash, a power cut); this run's beat need not wait for it to expire.
        with redis_client(settings) as client:
            client.delete(BEAT_LOCK_KEY)
    supervisor = Supervisor(_children(host, port), env)
    try:
        supervisor.start()
        web_url = local_base_url(host, port)
        _wait_healthy(web_url)
        if demo:
            load_demo(settings, web_url, console)
        # After the children's start-up lines: workers and beat have said theirs once the
        # pipeline is ready. A pipeline still not ready prints the banner anyway.
        _wait_answer(f"{web_url}/readyz/pipeline", PIPELINE_WAIT_SECONDS)
        _print_welcome(
            console,
            settings,
            web_url,
            embedded is not None,
            generated,
            publish=_publish_command(settings, port, _program()),
            demo_loopback=demo and settings.webhook_allowed_networks == LOOPBACK_NETWORKS,
        )
        return supervisor.wait()
    finally:
        supervisor.stop()
        if embedded is not None:
            embedded.stop()
        console.print("[bold]syndicator stopped[/]: web, workers and beat have exited.")


# The Settings field each generated secret fills (a one-secret tuple but the admin token).
_GENERATED_FIELDS = {
    "SYNDICATOR_CMS_SECRET": "cms_secrets",
    "SYNDICATOR_ADMIN_TOKEN": "admin_token",
    "SYNDICATOR_TOKEN_KEYS": "token_keys",
    "SYNDICATOR_ENCRYPTION_KEYS": "encryption_keys",
}


def with_generated(settings: Settings, generated: Mapping[str, str]) -> Settings:
    """``settings`` holding the secrets just generated, as the children will read them."""
    changes: dict[str, object] = {}
    for variable, value in generated.items():
        field = _GENERATED_FIELDS[variable]
        changes[field] = value if field == "admin_token" else (value,)
    return settings.with_(**changes)


def generated_secrets(directory: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The secrets the environment does not give, generated once and kept in ``directory``,
    by variable name. Only these are ours to show; the operator's own stay unprinted."""
    return {
        variable: ensure_secret(directory, name, generate)[0]
        for variable, name, generate in _GENERATED_SECRETS
        if not environ.get(variable, "").strip()
    }


def _shown_path(path: Path, cwd: Path) -> str:
    """``path`` as typed in ``cwd``: relative below it, else absolute."""
    path = path.absolute()
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)


def _program(
    argv0: str | None = None, executable: str | None = None, cwd: Path | None = None
) -> str:
    """How a shell in ``cwd`` starts the command this process was started as: the bare name
    only when PATH finds this very script, else its path (``.venv/bin/syndicator`` after
    ``make run``), or ``python -m syndicator`` with this interpreter."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    cwd = Path.cwd() if cwd is None else cwd
    script = Path(argv0)
    if script.name in ("__main__.py", "-m", "-c") or not argv0:
        return f"{shlex.quote(_shown_path(Path(executable), cwd))} -m syndicator"
    found = shutil.which(script.name)
    if found and Path(found).resolve() == (cwd / script).resolve():
        return script.name
    return shlex.quote(_shown_path(cwd / script, cwd))


def _publish_command(settings: Settings, port: int, program: str = "syndicator") -> str:
    """`publish` as another shell with the same environment reaches this run."""
    if settings.base_url == local_base_url():
        return f"{program} publish"
    if settings.base_url == local_base_url(port=port):
        return f"{program} publish --port {port}"
    return f"{program} publish --url {settings.base_url}/hooks/cms"


def _mail_destination(settings: Settings) -> str:
    if settings.smtp_url:
        return f"SMTP {redact_url(settings.smtp_url)}"
    return f".eml files in {settings.data_dir / 'outbox'} (no SYNDICATOR_SMTP_URL)"


def _print_welcome(
    console: Console,
    settings: Settings,
    web_url: str,
    embedded: bool,
    generated: Mapping[str, str],
    publish: str = "syndicator publish",
    demo_loopback: bool = False,
) -> None:
    """The banner, written in one piece: a child's log line cannot land inside it."""
    cms_secret = generated.get("SYNDICATOR_CMS_SECRET", "(from SYNDICATOR_CMS_SECRET)")
    admin_token = generated.get("SYNDICATOR_ADMIN_TOKEN", "(from SYNDICATOR_ADMIN_TOKEN)")
    redis = redis_place(settings)
    example = _shown_path(DEMO_DIR / "867.json", Path.cwd())
    with console:  # one buffer, flushed once on leaving
        _welcome_lines(console, settings, web_url, embedded, redis, cms_secret, admin_token)
        # soft_wrap: a long path stays one line that a shell can take as it is.
        line = functools.partial(console.print, highlight=False, soft_wrap=True)
        line(f"  Mail           {_mail_destination(settings)}")
        if demo_loopback:
            networks = " ".join(LOOPBACK_NETWORKS)
            line(f"  Partners       loopback allowed (--demo: {ALLOWED_NETWORKS}={networks})")
        line(f"  Publish:       {publish} {shlex.quote(example)}")
        console.print("  Ctrl-C stops everything.")


def _welcome_lines(
    console: Console,
    settings: Settings,
    web_url: str,
    embedded: bool,
    redis: str,
    cms_secret: str,
    admin_token: str,
) -> None:
    # soft_wrap: a long URL or path stays one line, whatever the width (a piped run's too).
    line = functools.partial(console.print, soft_wrap=True)
    # A rule as wide as a terminal, never as wide as a piped console (commands/output.py).
    console.print(Rule("[bold]syndicator[/]"), width=min(console.width, 80))
    line(f"  홈페이지       {web_url}/")
    line(f"  RSS 피드       {web_url}/feeds/rss.xml")
    line(f"  피드 목록      {web_url}/feeds/")
    line(f"  API 문서       {web_url}/docs")
    line(f"  운영 콘솔      {web_url}/ops")
    line(f"  준비 상태      {web_url}/readyz")
    line(f"  Redis          {'embedded, ' if embedded else ''}{redis}")
    line(f"  Database       {redact_url(settings.database_url)}")
    line(f"  CMS secret     {cms_secret}")
    line(f"  Admin token    {admin_token}")

"""`syndicator …`: run the system, publish and import events, inspect it."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from syndicator.commands.failures import describe_error
from syndicator.commands.lazy import lazy_group
from syndicator.commands.output import (
    JSON_OPTION,
    Loaded,
    cli_settings,
    console,
    errors,
    use_settings_from,
)
from syndicator.config import DEFAULT_PORT, redact_url
from syndicator.logs import configure_logging

if TYPE_CHECKING:
    from syndicator.ledger.quarantine import QuarantinedRelease
    from syndicator.store.db import Database

__all__ = ["app", "main"]

# The operators' command groups, loaded when one of them runs (commands/lazy.py).
COMMAND_GROUPS = {
    name: f"syndicator.commands.{name}"
    for name in ("subscribers", "bounces", "partners", "deliveries", "queues")
}

app = typer.Typer(
    help="syndicator: deliver every press release to feeds, email and partners.",
    no_args_is_help=True,
    add_completion=False,
    cls=lazy_group(COMMAND_GROUPS),
)


@app.command()
def run(
    host: str = typer.Option("127.0.0.1", help="Address the web app listens on."),
    port: int = typer.Option(
        DEFAULT_PORT, help="Port the web app listens on; links use it unless SYNDICATOR_BASE_URL."
    ),
    demo: bool = typer.Option(False, "--demo", help="Load the demo releases after start-up."),
) -> None:
    """Start the web app, the workers (webhooks in one of their own) and the scheduler
    (embedded Redis by default)."""
    from syndicator.runtime.launcher import launch

    settings = cli_settings(host=host, port=port)
    configure_logging(settings.log_level, settings.log_format)
    raise typer.Exit(launch(settings, host, port, demo, console.now()))


@app.command()
def web(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(
        DEFAULT_PORT, help="Port to listen on; links use it unless SYNDICATOR_BASE_URL is set."
    ),
    workers: int = typer.Option(1, min=1, help="uvicorn worker processes."),
) -> None:
    """Serve the HTTP API, the feeds and the public pages (no workers).

    Refuses to start, in one line naming the fix, while the database is unreachable or not
    at this code's schema revision. Redis being away is only a warning: the CMS hook keeps
    accepting events into the outbox without it."""
    import os

    import uvicorn

    from syndicator.runtime.preflight import preflight
    from syndicator.web.connection_limits import ConnectionLimits, bounded_protocol

    settings = cli_settings(host=host, port=port)
    configure_logging(settings.log_level, settings.log_format)
    problems = preflight(settings)
    for problem in problems:
        if problem.check == "redis":
            errors.print(f"[yellow]warning:[/] {problem}", highlight=False)
    fatal = [p for p in problems if p.check != "redis"]
    if fatal:
        errors.print(f"[red]error:[/] {fatal[0]}", highlight=False)
        raise typer.Exit(1)
    # Every uvicorn worker process builds its app from the environment: pass the URL on.
    os.environ.setdefault("SYNDICATOR_BASE_URL", settings.base_url)
    uvicorn.run(
        "syndicator.web.app:served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
        # Slow heads and bodies are cut off, and connections capped (--host 0.0.0.0 with no
        # front server); uvicorn's own keep-alive timeout still closes idle connections.
        http=bounded_protocol(ConnectionLimits.from_settings(settings)),
    )


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from syndicator.store.migrate import upgrade

    settings = cli_settings()
    upgrade(settings.database_url, encryption_keys=settings.encryption_keys)
    console.print(f"[green]database is up to date[/] ({redact_url(settings.database_url)})")


secret_app = typer.Typer(
    help="Make secrets for syndicator's configuration; re-encrypt the stored ones.",
    no_args_is_help=True,
)
app.add_typer(secret_app, name="secret")


@secret_app.command("generate")
def secret_generate() -> None:
    """Print a new `whsec_…` secret for SYNDICATOR_CMS_SECRET, and nothing else (pipe it)."""
    from syndicator.events.signing import generate_secret

    # Plain print, not rich: no wrapping or colour codes in what is piped.
    print(generate_secret())


@secret_app.command("generate-encryption-key")
def secret_generate_encryption_key() -> None:
    """Print a new key for SYNDICATOR_ENCRYPTION_KEYS, and nothing else (pipe it)."""
    from syndicator.store.sealed import generate_key

    print(generate_key())


@secret_app.command("rotate-encryption")
def secret_rotate_encryption() -> None:
    """Re-encrypt every stored partner secret under the newest encryption key.

    Put the new key first in SYNDICATOR_ENCRYPTION_KEYS with the old one after it
    ("<new> <old>"), restart every process, run this, then drop the old key. Values no
    listed key opens are named (by partner) and left as they are; the exit status is 1."""
    from syndicator.ops.audit import cli_operator
    from syndicator.store.db import Database
    from syndicator.store.resealing import count_sealed, reseal_all
    from syndicator.store.sealed import InvalidEncryptionKey, keyring

    settings = cli_settings()
    try:
        ring = keyring(settings.encryption_keys)
    except InvalidEncryptionKey as exc:
        errors.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    with Database(settings.database_url) as db:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), console=console.now()) as progress:
            task = progress.add_task("re-encrypting", total=count_sealed(db))
            report = reseal_all(db, ring, cli_operator(), lambda n: progress.advance(task, n))
    console.print(
        f"[green]{report.resealed} re-encrypted[/] under the newest key, "
        f"{report.current} already were"
        + (f", {report.changed} changed meanwhile (run again)" if report.changed else "")
    )
    for what in report.unreadable:
        errors.print(f"[red]not readable with any listed key:[/] {what}", highlight=False)
    if report.unreadable:
        raise typer.Exit(1)


@app.command()
def publish(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Event JSON file."),
    url: str = typer.Option(None, help="Hook URL; default <base URL>/hooks/cms."),
    port: int = typer.Option(
        DEFAULT_PORT,
        help="Port `syndicator run` listens on: the base URL without SYNDICATOR_BASE_URL.",
    ),
    webhook_id: str = typer.Option(None, help="Message id; default a new random one."),
) -> None:
    """Sign an event with SYNDICATOR_CMS_SECRET and post it to the CMS hook."""
    from syndicator.events.signing import sign_headers

    settings = cli_settings(port=port)
    if not settings.cms_secret:
        errors.print(
            "[red]SYNDICATOR_CMS_SECRET is not set[/] (and no generated one in "
            f"{settings.secrets_dir})"
        )
        raise typer.Exit(2)
    body = file.read_bytes()
    headers = {
        "content-type": "application/json",
        **sign_headers(settings.cms_secret, body, msg_id=webhook_id),
    }
    target = url or f"{settings.base_url}/hooks/cms"
    try:
        answer = httpx.post(target, content=body, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        errors.print(f"[red]could not reach {target}:[/] {exc}")
        raise typer.Exit(1) from exc
    _print_answer(answer)
    raise typer.Exit(0 if answer.status_code == 202 else 1)


def _print_answer(answer: httpx.Response) -> None:
    """The server's JSON as JSON; anything else (a proxy's HTML error page) as it came."""
    out = console if answer.status_code == 202 else errors
    out.print(f"HTTP {answer.status_code} {answer.reason_phrase}")
    if "json" in answer.headers.get("content-type", ""):
        try:
            out.print_json(answer.text)
            return
        except json.JSONDecodeError:
            pass
    if answer.content:
        out.print(answer.text[:2000], markup=False, highlight=False)


@app.command("import")
def import_(
    files: list[Path] = typer.Argument(..., exists=True, help="Event files or folders."),
    batch_size: int = typer.Option(500, help="Events per transaction."),
) -> None:
    """Backfill past releases into the store and the feeds. Nobody is emailed or called."""
    from syndicator.events.files import EventFileError, read_events
    from syndicator.feeds.changes import announce_from_command
    from syndicator.feeds.publish import rebuild_all
    from syndicator.intake.accept import import_events
    from syndicator.runtime.redis_urls import redis_client
    from syndicator.store.db import Database
    from syndicator.store.migrate import upgrade

    settings = cli_settings()
    try:
        events = read_events(files)
    except EventFileError as exc:
        errors.print(f"[red]nothing imported:[/] {exc}")
        raise typer.Exit(2) from exc
    upgrade(settings.database_url, encryption_keys=settings.encryption_keys)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with (
        Database(settings.database_url) as db,
        Progress(*columns, console=console.now()) as progress,
    ):
        task = progress.add_task("releases", total=len(events))
        for start in range(0, len(events), batch_size):
            chunk = events[start : start + batch_size]
            import_events(db, chunk, batch_size=batch_size)
            progress.advance(task, len(chunk))
        render = progress.add_task("feeds", total=None)
        documents = rebuild_all(db, settings)
        progress.update(render, total=1, completed=1)
    announce_from_command(redis_client(settings, timeout=2.0))
    console.print(
        f"[green]imported {len(events)} events[/], {len(documents)} feed documents "
        "changed; no email or webhook was sent"
    )


@app.command()
def status(as_json: bool = JSON_OPTION) -> None:
    """Queue depths, outbox backlog and delivery counts by status."""
    from syndicator.commands.readings_view import print_queues, print_readings
    from syndicator.ops.readings import collect_readings
    from syndicator.runtime.redis_urls import redis_client
    from syndicator.runtime.status import collect_status
    from syndicator.store.db import Database

    settings = cli_settings()
    stale = settings.worker_stale_after
    with Database(settings.database_url) as db, redis_client(settings, timeout=2) as client:
        report = collect_status(db, client, stale_after=stale)
        # The numbers /metrics exports.
        readings = collect_readings(
            db, client, stale_after=stale, consumer_window=settings.consumer_window
        )
    if as_json:
        output = {**dataclasses.asdict(report), "metrics": dataclasses.asdict(readings)}
        console.print_json(json.dumps(output))
        return
    if report.queues is None:
        console.print(f"[red]Redis unavailable:[/] {report.redis_error}")
    print_queues(console.now(), readings)
    if report.unacked is not None:
        console.print(f"unacked (in workers' hands): {report.unacked}")
    oldest = report.outbox_oldest_seconds
    console.print(
        f"outbox backlog: {report.outbox_backlog}"
        + (f" (oldest {oldest:.0f} s)" if oldest is not None else "")
    )
    console.print(f"relayed, fan-out not run yet: {report.outbox_awaiting_fanout}")
    ledger = Table("channel", "status", "deliveries", title="Delivery ledger")
    for channel, counts in report.deliveries.items():
        for state, n in counts.items():
            ledger.add_row(channel, state, str(n))
    console.print(ledger)
    print_readings(console.now(), readings)
    if report.pipeline:
        console.print("[red]pipeline blocked:[/]")
        for cause in report.pipeline:
            console.print(f"  - {cause}", highlight=False)
    else:
        console.print("[green]pipeline: events flow[/]")
    if report.quarantined_total:
        console.print(
            f"[yellow]quarantined releases: {report.quarantined_total}[/] "
            "(syndicator releases quarantined)"
        )
    if report.mismatched_replays:
        console.print(
            f"[yellow]webhook-ids replayed with a different body: {report.mismatched_replays}[/]"
            " (the CMS reuses ids: a sender bug)"
        )


@app.command("rebuild-feeds")
def rebuild_feeds() -> None:
    """Render every feed document from the database (repair, after restoring a backup).

    Releases that fail to render are quarantined and reported; the exit status is 0 when
    everything else rendered."""
    from syndicator.feeds.changes import announce_from_command
    from syndicator.feeds.publish import rebuild_all
    from syndicator.runtime.redis_urls import redis_client
    from syndicator.store.db import Database

    settings = cli_settings()
    with Database(settings.database_url) as db:
        changed = rebuild_all(db, settings)
        held = _quarantined(db)
    announce_from_command(redis_client(settings, timeout=2.0))
    console.print(f"[green]{len(changed)} feed documents changed[/]")
    if held:
        console.print(_quarantine_table(held))
        console.print("fix them in the CMS (an update retries), or: syndicator releases retry ID")


releases_app = typer.Typer(
    help="Releases that a channel quarantined because they fail to render.",
    no_args_is_help=True,
)
app.add_typer(releases_app, name="releases")


def _quarantined(db: Database) -> Sequence[QuarantinedRelease]:
    from syndicator.ledger.quarantine import list_quarantined

    with db.session() as session:
        return list_quarantined(session)


def _quarantine_table(held: Sequence[QuarantinedRelease]) -> Table:
    table = Table("release", "channel", "since", "error", "detail", title="Quarantined releases")
    for item in held:
        table.add_row(
            str(item.release_id),
            item.channel,
            item.since.strftime("%Y-%m-%d %H:%M:%S"),
            item.error_class,
            item.detail[:200],
        )
    return table


@releases_app.command("quarantined")
def releases_quarantined(as_json: bool = JSON_OPTION) -> None:
    """List quarantined releases: left out of a channel until updated or retried."""
    from syndicator.store.db import Database

    settings = cli_settings()
    with Database(settings.database_url) as db:
        held = _quarantined(db)
    if as_json:
        rows = [h.as_json() for h in held]
        console.print_json(json.dumps(rows, ensure_ascii=False))
    elif held:
        console.print(_quarantine_table(held))
    else:
        console.print("no release is quarantined")


@releases_app.command("retry")
def releases_retry(
    release_id: int = typer.Argument(..., help="The release number."),
) -> None:
    """Lift a release's quarantine and queue its feeds delivery again."""
    from syndicator.channels.feeds import SITE_TARGET, FeedsChannel
    from syndicator.ledger.quarantine import lift
    from syndicator.ledger.targets import requeue
    from syndicator.store.db import Database
    from syndicator.store.models import Release

    settings = cli_settings()
    with Database(settings.database_url) as db, db.session() as session:
        release = session.get(Release, release_id)
        if release is None:
            errors.print(f"[red]no release {release_id}[/]")
            raise typer.Exit(2)
        lifted = lift(session, release_id)
        requeue(session, release.last_event_id, FeedsChannel.name, SITE_TARGET)
    state = "lifted its quarantine and queued" if lifted else "was not quarantined; queued"
    console.print(
        f"release {release_id}: {state} its feeds delivery; a feeds worker renders it "
        "within seconds (see syndicator status)"
    )


def _add_role_commands() -> None:
    from syndicator.commands import roles

    app.command(context_settings=roles.PASS_THROUGH)(roles.worker)
    app.command(context_settings=roles.PASS_THROUGH)(roles.beat)


_add_role_commands()


@app.callback()
def _global_options(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an error."),
) -> None:
    """syndicator: deliver every press release to feeds, email and partners."""
    if not isinstance(ctx.obj, Loaded):  # invoked without main() (tests): a holder of its own
        ctx.obj = Loaded()
    use_settings_from(ctx.obj)


def main() -> None:
    loaded = Loaded()  # the settings, read once by the command, passed down its context
    try:
        app(obj=loaded)
    except Exception as exc:
        if "--debug" in sys.argv[1:]:
            raise
        errors.print(f"[red]error:[/] {describe_error(exc, loaded.settings)}", highlight=False)
        errors.print("(run with --debug for the traceback)", style="dim")
        sys.exit(1)


if __name__ == "__main__":
    main()

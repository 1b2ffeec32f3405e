"""`syndicator queues …`: the broker's queues (purge)."""

from __future__ import annotations

import typer

from syndicator.commands.output import cli_settings, console, fail
from syndicator.ops.audit import cli_operator
from syndicator.ops.purge import UnknownQueue, purge_queue, queue_depth
from syndicator.runtime.redis_urls import redis_client
from syndicator.store.db import Database

__all__ = ["app"]

app = typer.Typer(help="The broker's queues.", no_args_is_help=True)


@app.command("purge")
def purge(
    queue: str = typer.Argument(..., help="events, or a channel's queue (feeds, email, …)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete every message waiting in QUEUE, after asking.

    Nothing durable is lost: deliveries and outbox rows stay in the database, and the
    sweeper enqueues what is due again within a minute. Use it to drop a flood of
    duplicate or poisoned messages. The purge is written to the audit log.
    """
    settings = cli_settings()
    client = redis_client(settings, timeout=5)
    try:
        depth = queue_depth(client, queue)
    except UnknownQueue as exc:
        fail(str(exc), code=2)
    if not yes and not typer.confirm(f"delete {depth} messages waiting in the {queue} queue?"):
        fail("not purged", code=1)
    with Database(settings.database_url) as db:
        removed = purge_queue(db, client, cli_operator(), queue)
    console.print(f"purged {removed} messages from the {queue} queue")

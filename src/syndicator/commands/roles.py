"""`syndicator worker` and `syndicator beat`: the Celery roles, on this project's app.

Each checks the configuration the way every command does, then replaces itself with
``python -m celery -A workers.app <role> …``: Celery lives in ``workers/`` only, and the
process a supervisor (systemd, compose, Kubernetes) watches is Celery's own. Options the
command does not know go to Celery unchanged (``syndicator beat --loglevel DEBUG``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from syndicator.commands.output import cli_settings, errors
from syndicator.config import Settings
from syndicator.runtime.celery_commands import beat_command, worker_command

__all__ = ["PASS_THROUGH", "beat", "worker"]

# Unknown options and arguments are Celery's.
PASS_THROUGH: dict[str, Any] = {"allow_extra_args": True, "ignore_unknown_options": True}


def _refuse_unless_ready(settings: Settings, *, redis_required: bool) -> None:
    """One line naming the fix, as `syndicator web` does, rather than Celery's traceback."""
    from syndicator.runtime.preflight import preflight  # the database layer: not for --help

    problems = preflight(settings)
    for problem in problems:
        if problem.check == "redis" and not redis_required:
            errors.print(f"[yellow]warning:[/] {problem}", highlight=False)
    fatal = [p for p in problems if redis_required or p.check != "redis"]
    if fatal:
        errors.print(f"[red]error:[/] {fatal[0]}", highlight=False)
        raise typer.Exit(1)


def _replace_with(argv: list[str]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)


def worker(
    ctx: typer.Context,
    queues: str | None = typer.Option(
        None,
        "--queues",
        "-Q",
        show_default=False,
        help="Comma-separated queues to consume (default: all of them); a worker per queue "
        "scales them apart.",
    ),
    concurrency: int = typer.Option(
        0, "--concurrency", "-c", min=0, help="Pool processes (0: one per CPU, Celery's default)."
    ),
) -> None:
    """Run a Celery worker: fan-outs, feed renders, newsletters and partner webhooks.

    Start as many as the queues need, on any host sharing the database and Redis. Options
    not listed here go to `celery worker` as they are."""
    # The channels (and so the queues) import most of the app: not for --help.
    from syndicator.channels.registry import ALL_QUEUES, load_channel_type

    settings = cli_settings()
    known = dict.fromkeys(
        [*ALL_QUEUES, *(load_channel_type(s).queue for s in settings.extra_channels)]
    )
    given = ",".join(ALL_QUEUES) if queues is None else queues
    chosen = [q.strip() for q in given.split(",") if q.strip()]
    unknown = [q for q in chosen if q not in known]
    if not chosen or unknown:
        raise typer.BadParameter(
            f"unknown queue {', '.join(unknown) or '(none given)'}; "
            f"the queues are {', '.join(known)}",
            param_hint="--queues",
        )
    # Celery waits for its broker; the database it cannot do without.
    _refuse_unless_ready(settings, redis_required=False)
    _replace_with(worker_command(chosen, concurrency or None, ctx.args))


def beat(ctx: typer.Context) -> None:
    """Run the scheduler and the outbox relay (Celery beat with RedBeat).

    Start two or more, on different hosts: a lock in Redis keeps one active, and another
    takes over within 1.25 x SYNDICATOR_BEAT_LOCK_SECONDS of its death. Options go to
    `celery beat` as they are."""
    # Its lock lives in Redis: without Redis, RedBeat stops with a traceback.
    _refuse_unless_ready(cli_settings(), redis_required=True)
    _replace_with(beat_command(ctx.args))

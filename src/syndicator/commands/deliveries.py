"""`syndicator deliveries …`: the partner delivery log, and replay."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.table import Table

from syndicator.commands.output import (
    JSON_OPTION,
    cli_settings,
    console,
    fail,
    parse_since,
    print_json,
    when,
)
from syndicator.ops.audit import cli_operator
from syndicator.partners import delivery_log
from syndicator.partners.delivery_log import (
    DEFAULT_PAGE,
    MAX_PAGE,
    STATUSES,
    DeliveryNotFound,
    DeliveryView,
    NotResendable,
)
from syndicator.store.db import Database

__all__ = ["app"]

app = typer.Typer(help="The delivery log: list, show and replay deliveries.", no_args_is_help=True)

JSON = JSON_OPTION


def _summary(items: list[DeliveryView]) -> Table:
    table = Table(
        "id", "partner", "event", "status", "attempts", "last", "next", title="Partner deliveries"
    )
    for d in items:
        last = d.attempts[-1] if d.attempts else None
        last_text = "-"
        if last is not None:
            code = last.status_code if last.status_code is not None else "-"
            last_text = f"{last.outcome} {code} {last.error_class or ''} ({last.trigger})".strip()
        table.add_row(
            str(d.id),
            str(d.partner_id),
            f"{d.event_type} #{d.release_id}",
            d.status,
            str(d.attempt_count),
            last_text,
            when(d.next_attempt_at),
        )
    return table


def _attempts(d: DeliveryView) -> Table:
    table = Table(
        "#",
        "time",
        "trigger",
        "outcome",
        "status",
        "error",
        "ms",
        "url",
        "response",
        "next",
        title=f"Delivery {d.id}: {d.event_type} #{d.release_id} to partner {d.partner_id}, "
        f"{d.status}",
    )
    for a in d.attempts:
        table.add_row(
            str(a.number),
            when(a.started_at),
            a.trigger,
            a.outcome,
            "-" if a.status_code is None else str(a.status_code),
            a.error_class or "-",
            f"{a.duration_ms:.0f}",
            a.url or "-",
            (a.response or a.detail or "-")[:200],
            when(a.next_attempt_at),
        )
    return table


@app.command("list")
def list_(
    partner: int = typer.Option(None, "--partner", help="Only this partner's deliveries."),
    status: str = typer.Option(None, "--status", help=f"One of: {', '.join(STATUSES)}."),
    since: str = typer.Option(None, "--since", help="Created since: RFC 3339 or an age (24h)."),
    cursor: str = typer.Option(None, "--cursor", help="The next page, as the last one said."),
    limit: int = typer.Option(DEFAULT_PAGE, "--limit", min=1, max=MAX_PAGE, help="Per page."),
    as_json: bool = JSON,
) -> None:
    """Partner deliveries, newest first, with their attempts; one page at a time."""
    if status is not None and status not in STATUSES:
        fail(f"--status {status!r}: use one of {', '.join(STATUSES)}", 2)
    try:
        after = delivery_log.parse_cursor(cursor)
    except ValueError as exc:
        fail(f"--cursor {cursor!r}: {exc}", 2)
    start = parse_since(since) if since else None
    settings = cli_settings()
    with Database(settings.database_url) as db:
        page = delivery_log.list_deliveries(db, partner, status, start, after, limit)
    if as_json:
        print_json(page)
        return
    if not page.items:
        console.print("no partner delivery matches")
        return
    console.print(_summary(page.items))
    if page.next_cursor:
        console.print(f"more: syndicator deliveries list --cursor {page.next_cursor} …")


def _one(act: Callable[[Database], DeliveryView]) -> DeliveryView:
    """``act`` on the database; a delivery missing or not resendable ends the command."""
    with Database(cli_settings().database_url) as db:
        try:
            return act(db)
        except (DeliveryNotFound, NotResendable) as exc:
            fail(str(exc))


@app.command("show")
def show(
    delivery_id: int = typer.Argument(..., help="The delivery's id."), as_json: bool = JSON
) -> None:
    """One partner delivery with every attempt."""
    view = _one(lambda db: delivery_log.get_delivery(db, delivery_id))
    if as_json:
        print_json(view)
        return
    console.print(_attempts(view))
    if view.last_error:
        console.print(f"last error: {view.last_error}", markup=False, highlight=False)


@app.command("replay")
def replay(
    delivery_id: int = typer.Argument(..., help="The delivery's id."), as_json: bool = JSON
) -> None:
    """Resend one delivery now (logged as manual, not retried automatically)."""
    view = _one(lambda db: delivery_log.replay(db, delivery_id, cli_operator()))
    if as_json:
        print_json(view)
    else:
        console.print(
            f"delivery {delivery_id} is due now; a worker resends it within seconds "
            "(trigger: manual). Follow it: syndicator deliveries show "
            f"{delivery_id}"
        )

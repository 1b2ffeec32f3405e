"""`syndicator subscribers …`: import, list, export, erase, resend."""

from __future__ import annotations

import dataclasses
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from syndicator.commands.output import (
    JSON_OPTION,
    cli_settings,
    console,
    errors,
    fail,
    print_json,
    when,
)

if TYPE_CHECKING:
    from syndicator.config import Settings
    from syndicator.store.db import Database
    from syndicator.subscriptions.listing import SubscriberRow

__all__ = ["app"]

app = typer.Typer(
    help="Newsletter subscribers: import, export, erase, unsuppress, resend.", no_args_is_help=True
)

_STATUS_HELP = "Only subscribers in this status: pending, active, unsubscribed, suppressed, erased."


def _database(settings: Settings) -> Database:
    from syndicator.store.db import Database

    return Database(settings.database_url)


def _lines(raw: BinaryIO, path: Path) -> Iterator[str]:
    """Decoded lines, read a buffer at a time (never the whole file); a BOM is skipped."""
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    try:
        yield from text
    except UnicodeDecodeError as exc:
        fail(
            f"{path}: not UTF-8 near byte {raw.tell()}: {exc.reason}; rows before it were imported",
            2,
        )
    finally:
        text.detach()


@app.command("import")
def import_(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CSV: email,mode,categories,departments."
    ),
    consented: bool = typer.Option(
        False,
        "--consented",
        help="The people on the list already consented: make them active at once "
        "(consent 'import_consented'). Without it they stay pending until they confirm.",
    ),
    send_confirmations: bool = typer.Option(
        False,
        "--send-confirmations",
        help="Mail each newly imported pending subscriber a confirmation link afterwards. "
        "Off by default: mailing a list nobody asked to be mailed draws spam complaints.",
    ),
    chunk: int = typer.Option(1000, min=1, max=5000, help="Rows per transaction."),
) -> None:
    """Import subscribers from a CSV file, streamed, in chunks.

    Lists (categories, departments) are separated by `;`; an empty mode is `immediate`;
    no topics means every release. A first line starting with `email` is a header. Bad
    rows are reported by line number and skipped; addresses already on the list are left
    as they are (nobody who left is subscribed again). A department or category that no
    release has named is a bad row."""
    from syndicator.ops.audit import cli_operator
    from syndicator.store.taxonomy import known_topics
    from syndicator.subscriptions.importing import BadRow, import_rows, parse_rows

    if consented and send_confirmations:
        fail("--consented subscribers are active already: drop --send-confirmations", 2)
    settings = cli_settings()
    with _database(settings) as db:  # closed however the import ends
        with db.read_session() as session:
            known = known_topics(session)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
        )
        with file.open("rb") as raw, Progress(*columns, console=errors.now()) as progress:
            task = progress.add_task("importing", total=file.stat().st_size)

            def report(row: BadRow) -> None:
                progress.console.print(
                    f"[yellow]line {row.line}:[/] {escape(row.reason)}", highlight=False
                )

            totals = import_rows(
                db,
                parse_rows(_lines(raw, file), known),
                consented=consented,
                who=cli_operator(),
                chunk=chunk,
                on_bad=report,
                on_flushed=lambda: progress.update(task, completed=raw.tell()),
            )
            progress.update(task, completed=file.stat().st_size)
        state = "active" if consented else "pending (they must confirm)"
        console.print(
            f"[green]imported {len(totals.inserted_ids)} subscribers[/], {state}; "
            f"{totals.already_present} already on the list, {totals.duplicates_in_file} "
            f"repeated in the file, {totals.bad_rows} bad rows skipped"
        )
        if send_confirmations and totals.inserted_ids:
            _send_confirmations(settings, db, totals.inserted_ids)
    if totals.bad_rows:
        raise typer.Exit(3)


def _send_confirmations(settings: Settings, db: Database, ids: list[int]) -> None:
    from syndicator.mail.transport import SendError, open_transport
    from syndicator.subscriptions.confirmation import send_subscription_mail
    from syndicator.subscriptions.states import MailToSend

    failed = 0
    transport = open_transport(settings)  # one connection for the whole run
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=errors.now()) as progress:
            task = progress.add_task("confirmation mails", total=len(ids))
            for subscriber_id in ids:
                try:
                    send_subscription_mail(
                        settings, db, subscriber_id, MailToSend.CONFIRM, transport
                    )
                except SendError as exc:
                    failed += 1
                    progress.console.print(
                        f"[yellow]subscriber:{subscriber_id}:[/] {escape(str(exc))}",
                        highlight=False,
                    )
                progress.advance(task)
    finally:
        transport.close()
    console.print(f"sent {len(ids) - failed} confirmation mails, {failed} failed")


@app.command("list")
def list_(
    status: str = typer.Option(None, help=_STATUS_HELP),
    after: int = typer.Option(0, min=0, help="Start after this id (keyset paging)."),
    limit: int = typer.Option(50, min=1, max=1000, help="How many to show."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List subscribers in id order."""
    from syndicator.ops.audit import cli_operator
    from syndicator.subscriptions.listing import STATUSES, audited_page

    if status is not None and status not in STATUSES:
        fail(f"--status {status!r}: one of {', '.join(STATUSES)}", 2)
    settings = cli_settings()
    with _database(settings) as db, db.session() as session:
        rows = audited_page(session, cli_operator(), "cli list", after, limit, status)
    if as_json:
        print_json([_row_json(row) for row in rows])
        return
    table = Table("id", "email", "status", "mode", "categories", "departments", "created (UTC)")
    for row in rows:
        table.add_row(
            str(row.id),
            escape(row.email or "-"),
            row.status,
            row.mode,
            escape(";".join(row.categories) or "(all)"),
            escape(";".join(row.departments) or "(all)"),
            when(row.created_at),
        )
    console.print(table)
    if len(rows) == limit:
        console.print(f"more: syndicator subscribers list --after {rows[-1].id}", style="dim")


def _row_json(row: SubscriberRow) -> dict[str, object]:
    times = ("created_at", "confirmed_at", "unsubscribed_at", "suppressed_at")
    return {
        **{k: v for k, v in dataclasses.asdict(row).items() if k not in times},
        **{k: getattr(row, k).isoformat() if getattr(row, k) else None for k in times},
    }


@app.command()
def export(
    output: Path = typer.Option(None, "--output", "-o", help="Write here; default stdout."),
    status: str = typer.Option(None, help=_STATUS_HELP),
) -> None:
    """Export subscribers as CSV (streamed); the first four columns import back."""
    from syndicator.ops.audit import cli_operator
    from syndicator.spreadsheets import SafeWriter
    from syndicator.subscriptions.listing import EXPORT_COLUMNS, STATUSES, csv_cells, open_export

    if status is not None and status not in STATUSES:
        fail(f"--status {status!r}: one of {', '.join(STATUSES)}", 2)
    settings = cli_settings()
    with _database(settings) as db:
        rows = open_export(db, cli_operator(), "cli csv", status)
        target = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
        try:
            writer = SafeWriter(target)
            writer.writerow(EXPORT_COLUMNS)
            count = 0
            for row in rows:
                writer.writerow(csv_cells(row))
                count += 1
        finally:
            if output:
                target.close()
    if output:
        console.print(f"exported {count} subscribers to {output}")


@app.command()
def erase(
    subscriber_id: int = typer.Argument(..., help="The subscriber's id."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Erase a subscriber's personal data (address, topics, mail server replies).

    The row stays, status `erased`, so the ledger's `subscriber:<id>` still resolves."""
    from syndicator.ops.audit import cli_operator
    from syndicator.subscriptions.erasure import erase as erase_subscriber

    if not yes:
        typer.confirm(f"erase subscriber {subscriber_id}'s personal data for good?", abort=True)
    settings = cli_settings()
    with _database(settings) as db, db.session() as session:
        found = erase_subscriber(session, subscriber_id, cli_operator())
    if not found:
        fail(f"no subscriber {subscriber_id}", 1)
    console.print(f"subscriber {subscriber_id}: personal data erased")


@app.command()
def unsuppress(address: str = typer.Argument(..., help="The suppressed address.")) -> None:
    """Lift a suppression (a bounce or a complaint): the address may be sent a
    confirmation again.

    A suppressed address is sent nothing until this is run (or the resident asks to
    receive again from their preferences link); it becomes `unsubscribed`, so it receives
    newsletters only after asking and confirming again. Audited, with the kind lifted."""
    from sqlalchemy import select

    from syndicator.ops.audit import cli_operator
    from syndicator.store.models import Subscriber
    from syndicator.subscriptions.addresses import InvalidAddress, normalise_address
    from syndicator.subscriptions.states import LiftResult, lift_suppression

    try:
        normalised = normalise_address(address)
    except InvalidAddress as exc:
        fail(f"{address}: {exc.reason}", 2)
    settings = cli_settings()
    with _database(settings) as db, db.session() as session:
        found = session.scalar(select(Subscriber.id).where(Subscriber.email == normalised))
        who = cli_operator()
        result = lift_suppression(session, found, who) if found is not None else LiftResult.GONE
    if result is LiftResult.GONE:
        fail("no subscriber has that address", 1)
    if result is LiftResult.NOT_SUPPRESSED:
        fail(f"subscriber {found} is not suppressed", 1)
    console.print(f"subscriber {found}: suppression lifted; they may subscribe again")


@app.command()
def resend(release_id: int = typer.Argument(..., help="The release's id.")) -> None:
    """Send a release's newsletter again to the recipients it failed (or is uncertain) for.

    The rows become due now; a running email worker's sweeper sends them within seconds."""
    from syndicator.ops.audit import cli_operator
    from syndicator.subscriptions.resend import UnknownRelease, requeue_release_email

    settings = cli_settings()
    with _database(settings) as db:
        try:
            with db.session() as session:
                count = requeue_release_email(session, release_id, cli_operator())
        except UnknownRelease:
            fail(f"no release {release_id}", 1)
    console.print(f"release {release_id}: {count} email deliveries due again (failed or uncertain)")

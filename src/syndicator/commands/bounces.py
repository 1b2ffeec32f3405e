"""`syndicator bounces …`: returned mail (bounces, complaints) fed in by a mail server's
pipe or by hand."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from syndicator.commands.failures import describe_error
from syndicator.commands.output import (
    JSON_OPTION,
    cli_settings,
    console,
    errors,
    fail,
    print_json,
)

if TYPE_CHECKING:
    from syndicator.bounces.ingest import IngestResult

__all__ = ["EX_TEMPFAIL", "app"]

app = typer.Typer(help="Bounces and complaints that came back for our mail.", no_args_is_help=True)

# sysexits.h: a mail server keeps the message and pipes it again later.
EX_TEMPFAIL = 75


@app.command("ingest")
def ingest(
    files: list[Path] = typer.Argument(
        None,
        help="RFC 5322 messages, one per file; `-` (or nothing) reads one from stdin.",
    ),
    envelope_to: str = typer.Option(
        None,
        "--envelope-to",
        envvar=["ORIGINAL_RECIPIENT", "RECIPIENT"],
        show_envvar=False,
        help="The address the mail was delivered to (bounces+<tag>@…), for stdin only. "
        "Postfix and Exim set ORIGINAL_RECIPIENT or RECIPIENT for a pipe, which are read "
        "by default.",
    ),
    env_file: Path = typer.Option(
        None,
        "--env-file",
        help="Read settings the environment leaves unset from this KEY=VALUE file (the "
        "systemd units' /etc/syndicator/syndicator.env): a mail server's pipe passes "
        "almost no environment.",
    ),
    source: str = typer.Option("pipe", help="How the mail arrived, as kept with each report."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Record the bounces and complaints in returned mail, and suppress whom they concern.

    Wire a mail server's alias to it (`bounces: "|syndicator bounces ingest -"`, see
    docs/bounces.md). Exits 0 once every mail was understood or deliberately ignored (an
    out-of-office reply, a delay warning), and 75 (EX_TEMPFAIL) when the database cannot
    be written, so the mail server keeps the mail and tries again later.
    """
    from syndicator.bounces.ingest import ingest_message
    from syndicator.config import SettingError
    from syndicator.ops.complaint_guard import after_reports
    from syndicator.store.db import Database

    paths = [p for p in files or [] if str(p) != "-"]
    stdin = not files or len(paths) < len(files)
    for path in paths:
        if not path.is_file():
            fail(f"{path}: no such file", 2)
    try:
        settings = cli_settings(env_file=env_file)
    except SettingError as exc:
        _tempfail(str(exc))
    except OSError as exc:
        _tempfail(f"{env_file}: {exc.strerror or exc}")
    results: list[tuple[str, IngestResult]] = []
    db = Database(settings.database_url)
    try:
        if stdin:
            raw = sys.stdin.buffer.read()
            results.append(
                ("-", ingest_message(raw, source, db, settings, envelope_to=envelope_to))
            )
        with _progress(len(paths) > 1 and not as_json) as progress:
            task = progress.add_task("returned mail", total=len(paths))
            for path in paths:
                result = ingest_message(path.read_bytes(), source, db, settings)
                results.append((str(path), result))
                progress.advance(task)
    except Exception as exc:  # the database above all: keep the mail, try again later
        db.dispose()
        _tempfail(describe_error(exc, settings))
    # Kept: a complaint among them may pause the newsletters now.
    recorded = (f.kind for _, r in results for f, o in r.outcomes if o.outcome.value == "recorded")
    after_reports(db, settings, recorded)
    db.dispose()
    if as_json:
        print_json([{"file": name, **result.as_dict()} for name, result in results])
        return
    _report(results)


def _tempfail(message: str) -> NoReturn:
    errors.print(
        f"[red]error:[/] {escape(message)}; the mail is kept for later",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(EX_TEMPFAIL)


def _progress(shown: bool) -> Progress:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    return Progress(*columns, console=errors.now(), disable=not shown)


def _report(results: list[tuple[str, IngestResult]]) -> None:
    tally: Counter[str] = Counter()
    for name, result in results:
        if result.ignored is not None:
            tally["ignored"] += 1
            if len(results) == 1:
                console.print(f"{escape(name)}: ignored ({escape(result.ignored)})")
            continue
        for feedback, outcome in result.outcomes:
            tally[outcome.outcome.value] += 1
            if outcome.action.value != "none":
                tally[outcome.action.value] += 1
            if len(results) == 1:
                who = f"subscriber:{outcome.subscriber_id}" if outcome.subscriber_id else "nobody"
                console.print(
                    f"{escape(name)}: {feedback.kind} {escape(feedback.status or '')} -> "
                    f"{outcome.outcome.value} ({who}): {escape(outcome.reason)}",
                    highlight=False,
                )
    console.print(
        f"{len(results)} mails: {tally['recorded']} reports recorded "
        f"({tally['suppressed']} suppressed, {tally['unsubscribed']} unsubscribed), "
        f"{tally['duplicate']} seen before, {tally['unmatched']} unmatched, "
        f"{tally['ignored']} ignored",
        highlight=False,
    )

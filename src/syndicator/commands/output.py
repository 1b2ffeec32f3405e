"""What the partner and delivery commands share: consoles, one-line errors, JSON, times."""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape

from syndicator.config import DEFAULT_HOST, DEFAULT_PORT, Settings, load_settings

__all__ = [
    "JSON_OPTION",
    "Loaded",
    "cli_settings",
    "console",
    "errors",
    "fail",
    "parse_since",
    "print_json",
    "use_settings_from",
    "when",
]

# Wide enough that no table is ever folded or cut; tables are only as wide as their cells.
_UNBOUNDED_WIDTH = 10_000


def _console(stderr: bool = False) -> Console:
    """A terminal's own width; piped (``| less``, ``> file``), rich would assume 80 columns
    and cut every wider table, so there is no limit unless COLUMNS sets one."""
    stream = sys.stderr if stderr else sys.stdout
    piped = not stream.isatty() and not os.environ.get("COLUMNS")
    return Console(stderr=stderr, width=_UNBOUNDED_WIDTH if piped else None)


class _Console:
    """A console judged at each use, not at import: whether output is piped, and COLUMNS,
    may differ between two invocations of the commands in one process (tests, shells)."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr

    def now(self) -> Console:
        return _console(self._stderr)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.now(), name)


console = _Console()
errors = _Console(stderr=True)

JSON_OPTION = typer.Option(
    False,
    "--json",
    help="Print machine-readable JSON instead of tables: one document on stdout, "
    "nothing else (for jq and scripts).",
)

_AGO = re.compile(r"(\d{1,6})([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class Loaded:
    """What `syndicator` passes down its context: the settings, once read."""

    settings: Settings | None = None


_current = Loaded()


def use_settings_from(loaded: Loaded) -> None:
    """Called by the root command each time it runs: a fresh holder per invocation."""
    global _current
    _current = loaded


def cli_settings(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, env_file: Path | None = None
) -> Settings:
    """The command's settings, read from the environment once per invocation: the command
    reads them (``host`` and ``port`` where it listens; ``env_file`` for what the
    environment leaves unset), and everything after it, the error report included, is
    handed the same object."""
    if _current.settings is None:
        _current.settings = load_settings(host=host, port=port, env_file=env_file)
    return _current.settings


def fail(message: str, code: int = 1) -> NoReturn:
    """One line an operator can act on, then exit (2: bad input, 1: anything else)."""
    errors.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_json(value: BaseModel | list[Any] | dict[str, Any]) -> None:
    if isinstance(value, BaseModel):
        text = value.model_dump_json()
    else:
        text = json.dumps(
            [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
            if isinstance(value, list)
            else value,
            ensure_ascii=False,
        )
    # Plain print, not rich: no wrapping or colour codes in what is piped.
    print(text)


def when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """RFC 3339 with an offset (``2026-11-28T09:00:00+09:00``, ``…Z``) or an age
    (``30m``, ``24h``, ``7d``)."""
    if match := _AGO.fullmatch(text.strip()):
        amount, unit = match.groups()
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: int(amount)})
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"--since {text!r}: use RFC 3339 (2026-11-28T09:00:00+09:00) or an age (24h)", 2)
    if value.tzinfo is None:
        fail(f"--since {text!r}: add a timezone offset, e.g. +09:00 or Z", 2)
    return value

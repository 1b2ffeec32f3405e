"""`syndicator subscribers …`."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    help="Newsletter subscribers: import, export, erase, resend.", no_args_is_help=True
)

"""`syndicator partners …`."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    help="Partner webhook endpoints: add, list, rotate secrets, enable, disable.",
    no_args_is_help=True,
)

"""`syndicator deliveries …`."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(help="The delivery log: list, show and replay deliveries.", no_args_is_help=True)

"""`roost run`: the long-running process (the command; the work is in `roost.cli.serve`)."""

from __future__ import annotations

from typing import Annotated

import typer

from roost.cli.common import state
from roost.cli.serve import DEFAULT_GRACE_S, serve


def run(
    ctx: typer.Context,
    grace: Annotated[
        float,
        typer.Option(
            help="Seconds running turns get to finish on shutdown before they are "
            "recorded as interrupted."
        ),
    ] = DEFAULT_GRACE_S,
    port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="Port for the gateway (overrides gateway.port; 0: any free port).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run Roost: the store and every configured agent, until Ctrl+C or SIGTERM."""
    serve(state(ctx).config_path, grace, port=port)

"""What every subcommand shares: the global options, loading settings, exit codes."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from roost.config.settings import Settings

EXIT_FAILED = 1
EXIT_CONFIG = 2


@dataclass
class CliState:
    config_path: Path | None
    verbose: bool


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState(None, False)


def load(ctx: typer.Context) -> Settings:
    """Load the settings, or exit 2 with the file, the key and what is wrong."""
    from roost.config.errors import ConfigError
    from roost.config.loader import load_settings

    try:
        return load_settings(state(ctx).config_path)
    except ConfigError as exc:
        fail(f"configuration error: {exc}", EXIT_CONFIG)


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    from rich.markup import escape

    err_console().print(f"[bold red]roost:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def out_console() -> Console:
    from rich.console import Console

    return Console(soft_wrap=True)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()

"""What every subcommand shares: the global options, loading settings, exit codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    import typer
    from rich.console import Console

    from roost.app import App
    from roost.config.settings import Settings
    from roost.features.contract import FeatureFactory

EXIT_FAILED = 1
EXIT_CONFIG = 2


@dataclass
class CliState:
    config_path: Path | None
    verbose: bool


def state(ctx: typer.Context) -> CliState:
    """The global options, wherever on the command line they were given."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState(None, False)
    return root.obj


def load(ctx: typer.Context) -> Settings:
    """Load the settings, or exit 2 with the file, the key and what is wrong."""
    return load_config(state(ctx).config_path)


def load_config(config_path: Path | None) -> Settings:
    """``load`` for a known ``--config`` value (None: the search order)."""
    from roost.config.errors import ConfigError
    from roost.config.loader import load_settings

    try:
        return load_settings(config_path)
    except ConfigError as exc:
        fail(f"configuration error: {exc}", EXIT_CONFIG)


def start_logging(settings: Settings, stderr_level: str | None) -> None:
    """Set up logging under the data directory, or exit 1 saying why it cannot be written."""
    from roost.logs import setup_logging

    try:
        setup_logging(settings.home, settings.log_level, stderr_level, settings.log_format)
    except OSError as exc:
        fail(f"cannot write to the data directory {settings.home}: {exc.strerror or exc}")


async def start_app(
    settings: Settings,
    *,
    recover: bool = False,
    features: Sequence[FeatureFactory] = (),
) -> App:
    """A started ``App``, or exit with a clear message (2 for configuration problems).

    ``features`` (the gateway, ...) are built with the new App; they start with it
    when ``recover`` is set.
    """
    from roost.app import App, StartupError
    from roost.store.database import StoreError

    app = App(settings, features)
    try:
        await app.start(recover=recover)
    except StartupError as exc:
        await app.stop()
        where = f"{settings.config_path}: " if settings.config_path else ""
        fail(f"configuration error: {where}{exc}", EXIT_CONFIG)
    except StoreError as exc:
        await app.stop()
        fail(str(exc))
    return app


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    import typer
    from rich.markup import escape

    err_console().print(f"[bold red]roost:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def out_console(width: int | None = None) -> Console:
    """Rich on stdout; ``width`` overrides the detected one (e.g. no limit for a pipe)."""
    from rich.console import Console

    return Console(soft_wrap=True, width=width)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()

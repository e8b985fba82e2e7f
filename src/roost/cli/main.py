"""The `roost` command. Each subcommand lives in its own module, imported only when
that command runs (`_LazyGroup`), and imports the heavy parts of Roost only then: so
`roost --help` stays instant and `roost ask` through a gateway loads no pydantic model,
SQLAlchemy or model SDK."""

from __future__ import annotations

import gc
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from roost.cli.common import CliState
from roost.cli.plain_params import use_plain_coercion

if TYPE_CHECKING:
    from typer._click import Command, Context

COMMANDS: dict[str, str] = {
    "run": "roost.cli.run_cmd:run",
    "ask": "roost.cli.ask_cmd:ask",
    "chat": "roost.cli.chat_cmd:chat",
    "init": "roost.cli.init_cmd:init",
    "agents": "roost.cli.info_cmds:agents",
    "cost": "roost.cli.info_cmds:cost",
    "jobs": "roost.cli.jobs_cmd:jobs_app",
    "pairing": "roost.cli.telegram_cmds:pairing_app",
    "doctor": "roost.cli.telegram_cmds:doctor",
}
"""Subcommands in the order `roost --help` lists them: ``module:function`` for a command,
``module:typer_app`` for a group of subcommands (e.g. ``roost pairing list``)."""


class _LazyGroup(TyperGroup):
    """Imports a subcommand's module only when that command is asked for."""

    def list_commands(self, ctx: Context) -> list[str]:
        eager = super().list_commands(ctx)
        return [*(name for name in COMMANDS if name not in eager), *eager]

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        use_plain_coercion(self.get_params(ctx))
        return super().parse_args(ctx, args)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMANDS:
            command = _load_command(cmd_name)
            self.commands[cmd_name] = command
        return command


class _PlainCommand(TyperCommand):
    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        use_plain_coercion(self.get_params(ctx))
        return super().parse_args(ctx, args)


def _load_command(name: str) -> Command:
    """The click command for ``COMMANDS[name]``: a function, or a `typer.Typer` group."""
    module, _, attribute = COMMANDS[name].partition(":")
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        group = typer.main.get_command(target)
        group.name = name
        return group
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    single.command(name, cls=_PlainCommand)(target)
    return typer.main.get_command(single)


app = typer.Typer(
    cls=_LazyGroup,
    name="roost",
    help="Roost: always-on AI agents on your own machine, every model call priced.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from roost import __version__

        print(f"roost {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file. Default: $ROOST_CONFIG, ./roost.yaml, then <home>/roost.yaml.",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show progress and log lines on stderr.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_version
        ),
    ] = False,
) -> None:
    ctx.obj = CliState(config_path=config, verbose=verbose)


# Commands that must be registered eagerly (e.g. groups) go here: app.command(...)


def main() -> None:
    """Run the command, then leave without the interpreter's teardown.

    Tearing down the modules of an SDK (thousands of pydantic classes) takes about
    half a second after every command, as long as some whole commands take. By the
    time a command returns, Roost has closed its database and providers, so all that
    is left to do is flush output and the log, which ``_exit_now`` does.
    """
    # Commands other than `run` live about a second; the cyclic garbage collector would
    # spend a fifth of that walking the SDK's objects. `roost run` switches it back on.
    gc.disable()
    try:
        app()
    except SystemExit as done:
        _exit_now(done.code)
    _exit_now(0)


def _exit_now(code: object) -> NoReturn:
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # e.g. `roost cost | head -1`
        status = status or 1
    logging.shutdown()
    os._exit(status)

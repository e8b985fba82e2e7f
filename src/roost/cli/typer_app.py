"""The typer application behind `roost`: every command but a plain `roost run`.

Each subcommand lives in its own module, imported only when that command runs
(`_LazyGroup`), and imports the heavy parts of Roost only then: so `roost --help`
stays instant and `roost ask` through a gateway loads no pydantic model, SQLAlchemy
or model SDK. `roost.cli.main` imports this module only when it needs typer.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import typer.main
from typer.core import TyperGroup, TyperOption

from roost.cli.common import CliState, state
from roost.cli.main import COMMANDS

if TYPE_CHECKING:
    from typer._click import Command, Context


class _LazyGroup(TyperGroup):
    """Imports a subcommand's module only when that command is asked for."""

    def list_commands(self, ctx: Context) -> list[str]:
        eager = super().list_commands(ctx)
        return [*(name for name in COMMANDS if name not in eager), *eager]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMANDS:
            command = _load_command(cmd_name)
            self.commands[cmd_name] = command
        return command


def _load_command(name: str) -> Command:
    """The click command for ``COMMANDS[name]``: a function, or a `typer.Typer` group."""
    module, _, attribute = COMMANDS[name].partition(":")
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        command = typer.main.get_command(target)
        command.name = name
    else:
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    add_shared_options(command)
    return command


def add_shared_options(command: Command) -> None:
    """Accept --config and --verbose after the command too (`roost ask a hi -v`), and
    after each subcommand of a group (`roost jobs list -v`), as before it.

    A command's own option of the same name wins (its short name alone is skipped).
    """
    taken = {name for param in command.params for name in getattr(param, "opts", ())}
    if "--config" not in taken:
        command.params.append(
            TyperOption(
                param_decls=["--config", *({"-c"} - taken)],
                metavar="PATH",
                expose_value=False,
                callback=_set_config,
                help=_CONFIG_HELP,
            )
        )
    if "--verbose" not in taken:
        command.params.append(
            TyperOption(
                param_decls=["--verbose", *({"-v"} - taken)],
                is_flag=True,
                default=False,
                expose_value=False,
                callback=_set_verbose,
                help=_VERBOSE_HELP,
            )
        )
    for subcommand in getattr(command, "commands", {}).values():
        add_shared_options(subcommand)


def _set_config(ctx: typer.Context, _param: object, value: str | None) -> None:
    if value is not None:
        if not value:
            raise typer.BadParameter("the config path is empty")
        state(ctx).config_path = Path(value)


def _set_verbose(ctx: typer.Context, _param: object, value: bool) -> None:
    if value:
        state(ctx).verbose = True


_CONFIG_HELP = "Config file. Default: $ROOST_CONFIG, ./roost.yaml, then <home>/roost.yaml."
_VERBOSE_HELP = "Show progress and log lines on stderr."


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
            help=_CONFIG_HELP,
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help=_VERBOSE_HELP)] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_version
        ),
    ] = False,
) -> None:
    ctx.obj = CliState(config_path=config, verbose=verbose)


# Commands that must be registered eagerly (e.g. groups) go here: app.command(...)

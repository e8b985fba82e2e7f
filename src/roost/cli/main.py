"""The `roost` command. Each subcommand lives in its own module and imports the
heavy parts of Roost only when it runs, so `roost --help` stays instant."""

from __future__ import annotations

import gc
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from roost.cli import ask_cmd, info_cmds, init_cmd, run_cmd
from roost.cli.common import CliState

app = typer.Typer(
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


app.command("run")(run_cmd.run)
app.command("ask")(ask_cmd.ask)
app.command("init")(init_cmd.init)
app.command("agents")(info_cmds.agents)
app.command("cost")(info_cmds.cost)


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

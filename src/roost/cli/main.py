"""The `roost` command. Each subcommand lives in its own module and imports the
heavy parts of Roost only when it runs, so `roost --help` stays instant."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
) -> None:
    ctx.obj = CliState(config_path=config, verbose=verbose)


app.command("run")(run_cmd.run)
app.command("ask")(ask_cmd.ask)
app.command("init")(init_cmd.init)
app.command("agents")(info_cmds.agents)
app.command("cost")(info_cmds.cost)


def main() -> None:
    app()

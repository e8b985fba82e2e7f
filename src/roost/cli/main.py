"""The `roost` command. The typer application (`roost.cli.typer_app`) is imported only
when it is needed: a plain `roost run` — the long-lived process, restarted by its
service manager — goes straight to `roost.cli.serve` (`_plain_run`), which loads
neither typer nor its command machinery. Anything else, or any spelling of `run` this
module does not recognise exactly, goes through typer as before."""

from __future__ import annotations

import gc
import logging
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

COMMANDS: dict[str, str] = {
    "run": "roost.cli.run_cmd:run",
    "ask": "roost.cli.ask_cmd:ask",
    "chat": "roost.cli.chat_cmd:chat",
    "init": "roost.cli.init_cmd:init",
    "agents": "roost.cli.info_cmds:agents",
    "cost": "roost.cli.info_cmds:cost",
    "budget": "roost.cli.budget_cmd:budget_app",
    "sessions": "roost.cli.sessions_cmd:sessions",
    "history": "roost.cli.sessions_cmd:history",
    "jobs": "roost.cli.jobs_cmd:jobs_app",
    "mcp": "roost.cli.mcp_cmd:mcp_app",
    "pairing": "roost.cli.telegram_cmds:pairing_app",
    "approvals": "roost.cli.approvals_cmd:approvals_app",
    "doctor": "roost.cli.telegram_cmds:doctor",
    "status": "roost.cli.status_cmd:status",
    "open": "roost.cli.open_cmd:open_page",
    "logs": "roost.cli.logs_cmd:logs",
    "service": "roost.cli.service_cmd:service_app",
    "reload": "roost.cli.reload_cmd:reload",
    "backup": "roost.cli.backup_cmd:backup",
    "restore": "roost.cli.backup_cmd:restore",
    "help": "roost.cli.help_cmd:help_topic",
}
"""Subcommands in the order `roost --help` lists them: ``module:function`` for a command,
``module:typer_app`` for a group of subcommands (e.g. ``roost pairing list``)."""


def __getattr__(name: str) -> Any:
    """``app``: the typer application (imported on first use)."""
    if name == "app":
        from roost.cli.typer_app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    plain = _plain_run(sys.argv[1:])
    try:
        if plain is not None:
            _serve_plain(*plain)
        else:
            from roost.cli.typer_app import app

            app()
    except SystemExit as done:
        _exit_now(done.code)
    _exit_now(0)


def _plain_run(args: list[str]) -> tuple[Path | None, float, int | None] | None:
    """``(--config, --grace, --port)`` when ``args`` is a plain `roost run`, else None (typer).

    Recognised exactly: ``run`` with, before or after it, ``--config PATH | -c PATH |
    --config=PATH`` and ``--verbose | -v``, and after it ``--grace SECONDS |
    --grace=SECONDS`` and ``--port N | --port=N``; each option at most once, SECONDS a
    plain number, N a plain port number, PATH not starting with "-" and readable if it
    exists (what typer would check). Everything else, --help included, is left to
    typer, errors and all.
    """
    options: dict[str, str] = {}
    index = 0
    seen_run = False
    while index < len(args):
        arg = args[index]
        if arg == "run" and not seen_run:
            seen_run, index = True, index + 1
            continue
        name, value, index = _plain_option(args, index, after_run=seen_run)
        if name is None or name in options:
            return None
        options[name] = value
    if not seen_run:
        return None
    return _plain_values(options.get("config"), options.get("grace"), options.get("port"))


def _plain_option(args: list[str], index: int, *, after_run: bool) -> tuple[str | None, str, int]:
    """The option at ``args[index]``: (name, value, next index); name None if not plain."""
    arg = args[index]
    names = {"--verbose": "verbose", "-v": "verbose", "--config": "config", "-c": "config"}
    if after_run:
        names.update({"--grace": "grace", "--port": "port"})
    name = names.get(arg)
    if name == "verbose":
        return name, "", index + 1
    if name is not None:
        if index + 1 >= len(args):
            return None, "", index
        return name, args[index + 1], index + 2
    for prefix in ("--config=", "--grace=", "--port=") if after_run else ("--config=",):
        if arg.startswith(prefix):
            return prefix[2:-1], arg.removeprefix(prefix), index + 1
    return None, "", index


def _plain_values(
    config: str | None, grace_text: str | None, port_text: str | None
) -> tuple[Path | None, float, int | None] | None:
    from roost.cli.plain_numbers import plain_float
    from roost.cli.serve import DEFAULT_GRACE_S

    grace = DEFAULT_GRACE_S
    if grace_text is not None:
        number = plain_float(grace_text)
        if number is None:
            return None
        grace = number
    port = None
    if port_text is not None:
        if not (port_text.isascii() and port_text.isdigit() and int(port_text) <= 65535):
            return None  # typer says what is wrong with it
        port = int(port_text)
    if config is not None and (
        not config
        or config.startswith("-")
        or (os.path.exists(config) and not os.access(config, os.R_OK))
    ):
        return None
    return (Path(config) if config is not None else None), grace, port


def _serve_plain(config: Path | None, grace: float, port: int | None) -> None:
    """`roost run` without typer; exits as the typer command would."""
    from roost.cli.serve import serve

    try:
        serve(config, grace, port=port)
    except KeyboardInterrupt:  # before the signal handlers are in place (click's way)
        print("\nAborted!", file=sys.stderr)
        _exit_now(1)
    except Exception as exc:
        code = _typer_exit_code(exc)
        if code is None:
            raise
        _exit_now(code)


def _typer_exit_code(exc: Exception) -> int | None:
    """The code of a ``typer.Exit`` (``fail`` raises one), without importing typer."""
    typer_module: Any = sys.modules.get("typer")
    if typer_module is not None and isinstance(exc, typer_module.Exit):
        return int(exc.exit_code)
    return None


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

"""`roost ask`: one turn, printed when done (streamed on a terminal).

Through the running gateway when there is one (the turn then runs in `roost run`,
and this process imports neither a model SDK nor the store; see
`roost.client.remote_turn`); in this process otherwise, or with ``--local``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from roost.cli.common import (
    EXIT_FAILED,
    fail,
    load,
    start_app,
    start_logging,
    state,
    stdout_is_terminal,
)

if TYPE_CHECKING:
    from roost.agents.turn import TurnResult
    from roost.cli.terminal_printer import TerminalPrinter
    from roost.client.location import GatewayFinder, GatewayLocation
    from roost.config.settings import Settings

DEFAULT_SESSION = "cli:default"
EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT
INTERRUPTED_NOTE = "roost: interrupted; the turn is recorded as interrupted"


def __getattr__(name: str) -> Any:
    # TerminalPrinter moved to its own module (it imports the provider types, which
    # `roost ask` through a gateway must not load); still importable from here.
    if name == "TerminalPrinter":
        from roost.cli.terminal_printer import TerminalPrinter

        return TerminalPrinter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def ask(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="The agent to ask, e.g. assistant.")],
    message: Annotated[str, typer.Argument(help="What to say. Use '-' to read it from stdin.")],
    session: Annotated[
        str, typer.Option("--session", "-s", help="Conversation to continue.")
    ] = DEFAULT_SESSION,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as one JSON object.")
    ] = False,
    local: Annotated[
        bool,
        typer.Option("--local", help="Run the turn in this process even if a gateway is running."),
    ] = False,
    planner: Annotated[
        bool,
        typer.Option(
            "--planner",
            help="Run this turn on the agent's planner_model (its ledger role: planner).",
        ),
    ] = False,
) -> None:
    """Send one message to an agent and print its answer.

    Goes through the running gateway (`roost run`) if there is one, else runs the
    turn in this process; the conversation is stored, so asking again with the
    same --session continues it.

        roost ask assistant "What files are in your workspace?"
    """
    verbose = state(ctx).verbose
    find = None if local else gateway_finder(ctx)
    location = find() if find is not None else None
    if message == "-":
        message = sys.stdin.read().strip()
    if location is not None and find is not None:
        if not message.strip():
            fail("the message is empty")
        if verbose:
            _note(f"via gateway at {location.url}")
        warn_if_config_differs(find)
        if _ask_via_gateway(
            location, find, agent, message, session, as_json, find.home, planner=planner
        ):
            return
    _ask_in_process(
        ctx, agent, message, session, as_json=as_json, local=local, verbose=verbose, planner=planner
    )


def gateway_finder(ctx: typer.Context, url: str | None = None) -> GatewayFinder:
    """What finds the running gateway (or the one at ``url``) for this config.

    Built as cheaply as correctness allows: the config is peeked at without pydantic
    (the data directory and gateway.token are all a client needs); when it is not
    plainly valid, the full loader runs and reports why.
    """
    from roost.client.config_without_pydantic import peek_config
    from roost.client.location import GatewayFinder, finder

    peeked = peek_config(state(ctx).config_path, os.environ)
    if peeked is None:
        return finder(load(ctx), url)
    source = f"gateway.token in {peeked.config_path}" if peeked.token else None
    return GatewayFinder(
        peeked.home, peeked.token, source, url, peeked.config_path, knows_config=True
    )


def warn_if_config_differs(find: GatewayFinder) -> None:
    """Say on stderr when the running `roost run` loaded another config than this command."""
    note = find.config_mismatch()
    if note is not None:
        _note(note)


def _note(text: str) -> None:
    print(f"roost: {text}", file=sys.stderr, flush=True)


# -- in this process ---------------------------------------------------------------


def _ask_in_process(
    ctx: typer.Context,
    agent: str,
    message: str,
    session: str,
    *,
    as_json: bool,
    local: bool,
    verbose: bool,
    planner: bool = False,
) -> None:
    """Load the full config (pydantic, the store, the SDKs) and run the turn here."""
    settings = load(ctx)
    if not message.strip():
        fail("the message is empty")
    if agent not in settings.agents:
        fail(f"unknown agent '{agent}' (known: {', '.join(settings.agents)})")
    if planner and settings.agents[agent].planner_model is None:
        fail(f"agent '{agent}' has no planner model: set agents.{agent}.planner_model")
    if verbose:
        _note("in-process (--local)" if local else "in-process (no gateway running)")
    stream = stdout_is_terminal() and not as_json
    _catch_sigint()
    try:
        result = asyncio.run(_ask(settings, agent, message, session, stream, verbose, planner))
    except KeyboardInterrupt:
        print(f"\n{INTERRUPTED_NOTE}", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if as_json:
        print(json.dumps(_reply_dict(result.as_dict(), agent, session), ensure_ascii=False))
    elif result.ok:
        print(result.text if not stream else "")
    else:
        print(result.text, file=sys.stderr)
    if not result.ok:
        raise typer.Exit(EXIT_FAILED)


def _catch_sigint() -> None:
    """Let SIGINT interrupt the turn even if this process was started with it ignored.

    A job started in the background by a non-interactive shell inherits SIGINT ignored;
    Python then raises no KeyboardInterrupt and asyncio.run leaves SIGINT alone, so a
    `kill -INT` (or a supervisor's) would be lost. `roost run`, `roost chat` and `roost
    ask` through the gateway handle SIGINT themselves, so do the same here.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


async def _ask(
    settings: Settings,
    agent: str,
    message: str,
    session: str,
    stream: bool,
    verbose: bool,
    planner: bool = False,
) -> TurnResult:
    from roost.cli.terminal_printer import TerminalPrinter

    start_logging(settings, "INFO" if verbose else "WARNING")

    app = await start_app(settings)
    grace_s = 10.0
    try:
        printer = TerminalPrinter() if stream else None
        return await app.ask(agent, message, session, printer, planner=planner)
    except asyncio.CancelledError:
        grace_s = 0.0  # Ctrl+C: stop the turn now rather than wait for it
        raise
    finally:
        await app.stop(grace_s)


# -- through the gateway -------------------------------------------------------------


def _ask_via_gateway(
    location: GatewayLocation,
    relocate: Callable[[], GatewayLocation | None] | None,
    agent: str,
    message: str,
    session: str,
    as_json: bool,
    home: Path,
    *,
    planner: bool = False,
) -> bool:
    """Ask through the gateway and exit like the in-process path; False: it is not there."""
    from roost.client.remote_turn import NotConnected, TurnFailed, remote_turn

    stream = stdout_is_terminal() and not as_json
    try:
        reply = asyncio.run(
            remote_turn(location, relocate, agent, message, session, stream, planner)
        )
    except NotConnected as exc:
        _note(f"{exc}; running the turn in this process")
        return False
    except TurnFailed as exc:
        fail(str(exc))
    if reply is None:
        print(f"\n{INTERRUPTED_NOTE}", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED)
    data, streamed = reply
    from roost.store.turn_status import TurnStatus

    ok = data.get("status") == TurnStatus.OK
    text = str(data.get("text", ""))
    if as_json:
        print(json.dumps(_reply_dict(data, agent, session), ensure_ascii=False))
    elif ok:
        print("" if streamed else text)
    else:
        print(text, file=sys.stderr)
    if data.get("status") == TurnStatus.UNCONFIGURED:
        from roost.client.config_check import unconfigured_hint

        hint = unconfigured_hint(home, os.environ)
        if hint is not None:
            _note(hint)
    if not ok:
        raise typer.Exit(EXIT_FAILED)
    return True


def _reply_dict(data: dict[str, Any], agent: str, session: str) -> dict[str, object]:
    """What `--json` prints: a turn's ``as_dict`` (in this process) or the chat.reply /
    chat.error carrying it (through the gateway), the tokens grouped under ``usage``."""

    def number(key: str) -> Any:
        value = data.get(key)
        return value if isinstance(value, int | float) else 0

    return {
        "agent": data.get("agent", agent),
        "session": data.get("session", session),
        "status": data.get("status", "error"),
        "text": data.get("text", ""),
        "turn_id": data.get("turn_id"),
        "rounds": data.get("rounds"),
        "usage": {
            "input_tokens": number("input_tokens"),
            "output_tokens": number("output_tokens"),
            "cache_read_tokens": number("cache_read_tokens"),
            "cache_write_tokens": number("cache_write_tokens"),
        },
        "cost_usd": round(float(number("cost_usd")), 8),
        "duration_ms": number("duration_ms"),
        "error": data.get("error"),
    }


__all__ = [
    "DEFAULT_SESSION",
    "EXIT_INTERRUPTED",
    "TerminalPrinter",
    "ask",
    "gateway_finder",
    "warn_if_config_differs",
]

"""`roost ask`: one turn, in this process, printed when done (streamed on a terminal)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from roost.agents.observer import TurnObserver
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
    from roost.config.settings import Settings
    from roost.providers.base import ToolCall
    from roost.tools.registry import ToolOutcome

DEFAULT_SESSION = "cli:default"
EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT


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
) -> None:
    """Send one message to an agent and print its answer.

    Runs the turn in this process; the conversation is stored, so asking again
    with the same --session continues it.

        roost ask assistant "What files are in your workspace?"
    """
    settings = load(ctx)
    if message == "-":
        message = sys.stdin.read().strip()
    if not message.strip():
        fail("the message is empty")
    if agent not in settings.agents:
        fail(f"unknown agent '{agent}' (known: {', '.join(settings.agents)})")
    verbose = state(ctx).verbose
    stream = stdout_is_terminal() and not as_json
    try:
        result = asyncio.run(_ask(settings, agent, message, session, stream, verbose))
    except KeyboardInterrupt:
        print("\nroost: interrupted; the turn is recorded as interrupted", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if as_json:
        print(json.dumps(_as_dict(result), ensure_ascii=False))
    elif result.ok:
        print(result.text if not stream else "")
    else:
        print(result.text, file=sys.stderr)
    if not result.ok:
        raise typer.Exit(EXIT_FAILED)


async def _ask(
    settings: Settings, agent: str, message: str, session: str, stream: bool, verbose: bool
) -> TurnResult:
    start_logging(settings, "INFO" if verbose else "WARNING")

    app = await start_app(settings)
    grace_s = 10.0
    try:
        return await app.ask(agent, message, session, TerminalPrinter() if stream else None)
    except asyncio.CancelledError:
        grace_s = 0.0  # Ctrl+C: stop the turn now rather than wait for it
        raise
    finally:
        await app.stop(grace_s)


class TerminalPrinter(TurnObserver):
    """Streams the answer to stdout as it arrives; tool calls go to stderr, one line each."""

    def __init__(self) -> None:
        self._mid_line = False

    async def on_text(self, delta: str) -> None:
        sys.stdout.write(delta)
        sys.stdout.flush()
        self._mid_line = not delta.endswith("\n")

    async def on_tool_start(self, call: ToolCall) -> None:
        if self._mid_line:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self._mid_line = False
        print(f"  [{call.name}] {_short(call.arguments_json)}", file=sys.stderr, flush=True)

    async def on_tool_end(self, call: ToolCall, outcome: ToolOutcome) -> None:
        if outcome.is_error:
            print(f"  [{call.name}] failed: {_short(outcome.text)}", file=sys.stderr, flush=True)


def _short(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _as_dict(result: TurnResult) -> dict[str, object]:
    return {
        "agent": result.agent,
        "session": result.session,
        "status": result.status,
        "text": result.text,
        "rounds": result.rounds,
        "usage": {
            "input_tokens": result.usage.input_tokens,
            "output_tokens": result.usage.output_tokens,
            "cache_read_tokens": result.usage.cache_read_tokens,
            "cache_write_tokens": result.usage.cache_write_tokens,
        },
        "cost_usd": round(result.cost_usd, 8),
        "duration_ms": result.duration_ms,
        "error": result.error,
    }

"""`roost ask`: one turn, in this process, printed when done (streamed on a terminal)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING, Annotated

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
    from roost.config.settings import Settings

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
    from roost.agents.turn import TurnObserver

    start_logging(settings, "INFO" if verbose else "WARNING")

    class Printer(TurnObserver):
        async def on_text(self, delta: str) -> None:
            sys.stdout.write(delta)
            sys.stdout.flush()

    app = await start_app(settings)
    grace_s = 10.0
    try:
        return await app.ask(agent, message, session, Printer() if stream else None)
    except asyncio.CancelledError:
        grace_s = 0.0  # Ctrl+C: stop the turn now rather than wait for it
        raise
    finally:
        await app.stop(grace_s)


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

"""`roost ask`: one turn, printed when done (streamed on a terminal).

Through the running gateway when there is one (the turn then runs in `roost run`,
and this process imports neither a model SDK nor the store); in this process
otherwise, or with ``--local``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
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
    from roost.client.gateway_client import (
        GatewayClient,
        GatewayEvent,
        GatewayFinder,
        GatewayLocation,
    )
    from roost.config.settings import Settings

DEFAULT_SESSION = "cli:default"
EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT
FINAL_EVENTS = ("chat.reply", "chat.error")
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
    if location is not None:
        if not message.strip():
            fail("the message is empty")
        if verbose:
            _note(f"via gateway at {location.url}")
        if _ask_via_gateway(location, find, agent, message, session, as_json):
            return
    settings = load(ctx)
    if not message.strip():
        fail("the message is empty")
    if agent not in settings.agents:
        fail(f"unknown agent '{agent}' (known: {', '.join(settings.agents)})")
    if verbose:
        _note("in-process (--local)" if local else "in-process (no gateway running)")
    stream = stdout_is_terminal() and not as_json
    try:
        result = asyncio.run(_ask(settings, agent, message, session, stream, verbose))
    except KeyboardInterrupt:
        print(f"\n{INTERRUPTED_NOTE}", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if as_json:
        print(json.dumps(_as_dict(result), ensure_ascii=False))
    elif result.ok:
        print(result.text if not stream else "")
    else:
        print(result.text, file=sys.stderr)
    if not result.ok:
        raise typer.Exit(EXIT_FAILED)


def gateway_finder(ctx: typer.Context, url: str | None = None) -> GatewayFinder:
    """What finds the running gateway (or the one at ``url``) for this config.

    Built as cheaply as correctness allows: the config is peeked at without pydantic
    (the data directory and gateway.token are all a client needs); when it is not
    plainly valid, the full loader runs and reports why.
    """
    from roost.client.config_peek import peek_config
    from roost.client.gateway_client import GatewayFinder, finder

    peeked = peek_config(state(ctx).config_path, os.environ)
    if peeked is None:
        return finder(load(ctx), url)
    source = f"gateway.token in {peeked.config_path}" if peeked.token else None
    return GatewayFinder(peeked.home, peeked.token, source, url)


def _note(text: str) -> None:
    print(f"roost: {text}", file=sys.stderr, flush=True)


# -- in this process ---------------------------------------------------------------


async def _ask(
    settings: Settings, agent: str, message: str, session: str, stream: bool, verbose: bool
) -> TurnResult:
    from roost.cli.terminal_printer import TerminalPrinter

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


# -- through the gateway -------------------------------------------------------------


class _NotConnected(Exception):
    """The gateway could not be reached before anything was sent: run in-process."""


def _ask_via_gateway(
    location: GatewayLocation,
    relocate: Callable[[], GatewayLocation | None] | None,
    agent: str,
    message: str,
    session: str,
    as_json: bool,
) -> bool:
    """Ask through the gateway and exit like the in-process path; False: it is not there."""
    stream = stdout_is_terminal() and not as_json
    try:
        reply = asyncio.run(_remote_turn(location, relocate, agent, message, session, stream))
    except _NotConnected as exc:
        _note(f"{exc}; running the turn in this process")
        return False
    if reply is None:
        print(f"\n{INTERRUPTED_NOTE}", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED)
    data, streamed = reply
    ok = data.get("status") == "ok"
    text = str(data.get("text", ""))
    if as_json:
        print(json.dumps(_reply_dict(data, agent, session), ensure_ascii=False))
    elif ok:
        print("" if streamed else text)
    else:
        print(text, file=sys.stderr)
    if not ok:
        raise typer.Exit(EXIT_FAILED)
    return True


async def _remote_turn(
    location: GatewayLocation,
    relocate: Callable[[], GatewayLocation | None] | None,
    agent: str,
    message: str,
    session: str,
    stream: bool,
) -> tuple[dict[str, Any], bool] | None:
    """The final event's data and whether text was streamed; None if interrupted."""
    from roost.client.gateway_client import (
        GatewayAuthError,
        GatewayCallError,
        GatewayClient,
        GatewayError,
        client_id,
    )
    from roost.client.render import StreamPrinter

    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    try:
        try:
            client = await GatewayClient.connect(
                location.url, location.token, client_id("ask"), token_source=location.token_source
            )
        except GatewayAuthError as exc:
            fail(f"{exc} (or run the turn in this process with --local)")
        except GatewayError as exc:
            raise _NotConnected(str(exc)) from None
        try:
            if interrupted.is_set():
                return None  # nothing was sent yet
            if client.agents and agent not in client.agents:
                fail(f"unknown agent '{agent}' (known: {', '.join(client.agents)})")
            try:
                sent = await client.call(
                    "chat.send", {"agent": agent, "text": message, "session": session}
                )
            except GatewayCallError as exc:
                fail(exc.message or str(exc))
            except GatewayError as exc:
                fail(str(exc))
            message_id = sent.get("message_id")
            printer = StreamPrinter() if stream else None
            while True:
                if interrupted.is_set():
                    await _cancel(client, agent, session, message_id)
                    return None
                event = await _next_event(client, interrupted)
                if event is None:
                    if not interrupted.is_set():
                        client = await _reconnect(client, agent, session, relocate)
                    continue
                if event.message_id != message_id:
                    continue
                if event.name in FINAL_EVENTS:
                    return event.data, printer is not None and printer.wrote_text
                if printer is not None:
                    printer.event(event.name, event.data)
        finally:
            with contextlib.suppress(TimeoutError, GatewayError, OSError):
                await asyncio.wait_for(client.close(), 2)
    finally:
        loop.remove_signal_handler(signal.SIGINT)


async def _next_event(client: GatewayClient, interrupted: asyncio.Event) -> GatewayEvent | None:
    """The next event, or None when interrupted or the connection ended."""
    getter = asyncio.ensure_future(client.next_event())
    stopper = asyncio.ensure_future(interrupted.wait())
    done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if getter in done:
        return getter.result()
    getter.cancel()
    return None


async def _cancel(client: GatewayClient, agent: str, session: str, message_id: object) -> None:
    """Stop the turn, and take its "interrupted" reply so it does not wait for us."""
    from roost.client.gateway_client import GatewayError

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3.0
    try:
        await client.call("chat.cancel", {"agent": agent, "session": session}, wait_s=3.0)
        while (left := deadline - loop.time()) > 0:
            event = await client.next_event(wait_s=left)
            if event is None or (event.message_id == message_id and event.name in FINAL_EVENTS):
                return
    except (GatewayError, TimeoutError):
        return


async def _reconnect(
    client: GatewayClient,
    agent: str,
    session: str,
    relocate: Callable[[], GatewayLocation | None] | None,
) -> GatewayClient:
    """After a dropped connection: the same client id again, and the session's live events."""
    from roost.client.gateway_client import GatewayError

    lost = client.close_error
    try:
        fresh = await client.reconnect(within_s=15.0, relocate=relocate)
    except GatewayError as exc:
        fail(
            f"{lost or exc}; the turn goes on in `roost run`: its answer will be in the "
            f"session's history (roost chat {agent} --session {session}, then /history)"
        )
    with contextlib.suppress(GatewayError):  # else the reply still comes, unstreamed
        await fresh.call("subscribe", {"topics": [f"session:{agent}:{session}"]})
    return fresh


def _reply_dict(data: dict[str, Any], agent: str, session: str) -> dict[str, object]:
    """A chat.reply / chat.error as `--json` prints an in-process result (same keys)."""

    def number(key: str) -> Any:
        value = data.get(key)
        return value if isinstance(value, int | float) else 0

    return {
        "agent": data.get("agent", agent),
        "session": data.get("session", session),
        "status": data.get("status", "error"),
        "text": data.get("text", ""),
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


__all__ = ["DEFAULT_SESSION", "EXIT_INTERRUPTED", "TerminalPrinter", "ask", "gateway_finder"]

"""`roost chat`: talk to an agent through the running gateway, as long as you like.

On a terminal: a prompt (history in ``<home>/chat_history``, arrow keys), answers
streamed as they come, tool calls as dim lines, tokens and cost after each answer,
slash commands. Without one (a pipe, a script): one message per stdin line, each
reply printed plainly. The parts live in `roost.cli.chat`.

The client id is ``chat-<host>-<pid>``: one per chat process, kept across
reconnects, so a reply that finishes while the connection is down (the gateway
restarting, a dropped socket) is delivered when this chat reconnects. It is not
shared between processes: two chats on the same session would otherwise take each
other's replies whenever one of them is disconnected.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from roost.cli.ask_cmd import (
    DEFAULT_SESSION,
    EXIT_INTERRUPTED,
    gateway_finder,
    warn_if_config_differs,
)
from roost.cli.chat.conversation import Chat
from roost.cli.chat.piped import run_piped
from roost.cli.chat.ui import PlainUi, TerminalUi, Ui
from roost.cli.common import fail
from roost.client.errors import GatewayAuthError, GatewayUnavailable

if TYPE_CHECKING:
    from roost.client.gateway_client import GatewayClient
    from roost.client.location import GatewayFinder, GatewayLocation

NO_GATEWAY = (
    "no gateway is running{where}. Start one in another terminal with `roost run` "
    "(or `make run` in a Roost checkout), then run `roost chat` again."
)


def chat(
    ctx: typer.Context,
    agent: Annotated[
        str | None,
        typer.Argument(help="The agent to talk to. Default: the first configured one."),
    ] = None,
    session: Annotated[
        str, typer.Option("--session", "-s", help="Conversation to continue.")
    ] = DEFAULT_SESSION,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="The gateway's WebSocket address. Default: the one `roost run` "
            "wrote to <home>/gateway.json.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Chat with an agent through the running gateway (start it with `roost run`).

    Type /help for the commands. Without a terminal, each line of stdin is one
    message and each reply is printed plainly:

        printf 'hello\\n/cost\\n' | roost chat assistant
    """
    find = gateway_finder(ctx, url)
    location = find()
    if location is None:
        fail(NO_GATEWAY.format(where=f" for {find.home}"))
    warn_if_config_differs(find)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    try:
        code = asyncio.run(_main(location, find, agent, session, interactive))
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    if code:
        raise typer.Exit(code)


async def _main(
    location: GatewayLocation,
    find: GatewayFinder,
    agent: str | None,
    session: str,
    interactive: bool,
) -> int:
    ui: Ui = TerminalUi() if interactive else PlainUi()
    client = await _connect(location)
    agent = await _choose_agent(client, agent)
    # Reconnecting reads gateway.json again: a restarted `roost run` may listen on
    # another port (gateway.port: 0).
    room = Chat(client, agent, session, ui, interactive=interactive, relocate=find)
    room.start()
    try:
        if interactive:
            from roost.cli.chat.terminal import run_interactive  # loads prompt_toolkit

            return await run_interactive(room, find.home)
        return await run_piped(room)
    finally:
        await room.stop()


async def _connect(location: GatewayLocation) -> GatewayClient:
    from roost.client.gateway_client import GatewayClient, client_id

    try:
        return await GatewayClient.connect(
            location.url, location.token, client_id("chat"), token_source=location.token_source
        )
    except GatewayUnavailable:
        fail(NO_GATEWAY.format(where=f" at {location.url}"))
    except GatewayAuthError as exc:
        fail(str(exc))


async def _choose_agent(client: GatewayClient, agent: str | None) -> str:
    """The agent asked for, checked against the gateway's; by default its first one."""
    if agent is None:
        return client.agents[0] if client.agents else "assistant"
    if client.agents and agent not in client.agents:
        await client.close()
        fail(f"unknown agent '{agent}' (known: {', '.join(client.agents)})")
    return agent

"""`roost mcp list`: the MCP servers, their state and tools.

From the running `roost run` (the gateway's ``mcp.list``) when there is one, else
from the configuration, every server "not running".
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from roost.cli.common import fail, load, out_console

if TYPE_CHECKING:
    from roost.config.settings import Settings

mcp_app = typer.Typer(
    name="mcp",
    help="MCP servers (mcp_servers: in the config): their state and tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@mcp_app.callback()
def _group() -> None:
    """MCP servers (mcp_servers: in the config): their state and tools."""
    # A callback keeps `mcp` a group: with one command typer would make it the command.


JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@mcp_app.command("list")
def list_servers(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Each server: transport, state (ready, starting, failed, backing off, not running),
    its tools, and its last error."""
    settings = load(ctx)
    servers = asyncio.run(_servers(settings))
    if as_json:
        print(json.dumps({"servers": servers}, ensure_ascii=False))
        return
    if not servers:
        print("no MCP servers; declare them under mcp_servers: in the config (docs/mcp.md)")
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table("server", "transport", "state", "tools", "last error")
    for name, server in servers.items():
        state = server["state"]
        if "retry_in_s" in server:
            state += f" (retry in {server['retry_in_s']}s)"
        # What a server sent (tool names, error text) is text, never rich markup.
        table.add_row(
            escape(name),
            server["transport"],
            escape(state),
            escape(", ".join(server["tools"]) or "-"),
            escape(server.get("last_error") or ""),
        )
    out_console().print(table)


async def _servers(settings: Settings) -> dict[str, Any]:
    from roost.client.gateway_client import (
        GatewayCallError,
        GatewayClient,
        GatewayError,
        client_id,
        locate,
    )

    configured: dict[str, Any] = {
        name: {"state": "not running", "transport": config.transport, "tools": []}
        for name, config in settings.mcp_servers.items()
    }
    location = locate(settings)
    if location is None or not configured:
        return configured
    try:
        client = await GatewayClient.connect(
            location.url, location.token, client_id("roost-mcp"), token_source=location.token_source
        )
    except GatewayError as exc:
        fail(str(exc))
    try:
        result = await client.call("mcp.list", {})
    except GatewayCallError as exc:
        if exc.code != "unknown_method":
            fail(exc.message or exc.code)
        # The running process was started before these servers were declared.
        return configured
    except GatewayError as exc:
        fail(str(exc))
    finally:
        await client.close()
    # A server declared since `roost run` started shows as not running.
    return {**configured, **result.get("servers", {})}

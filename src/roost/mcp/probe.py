"""`roost doctor`: start each declared MCP server briefly and report the ones that fail."""

from __future__ import annotations

import asyncio

from roost.config.mcp_servers import McpServerConfig
from roost.mcp.server import READY, Backoff, McpServer

NO_RETRY = Backoff(first_s=3600.0)
"""A probe tries once: it is stopped long before a retry."""


async def probe_servers(servers: dict[str, McpServerConfig]) -> list[tuple[bool | None, str]]:
    """One ``(ok, what)`` per server, probed in parallel (each within its ``timeout_s``)."""
    return list(await asyncio.gather(*(probe(name, config) for name, config in servers.items())))


async def probe(name: str, config: McpServerConfig) -> tuple[bool | None, str]:
    server = McpServer(name, config, lambda: None, backoff=NO_RETRY, announce=False)
    server.start()
    try:
        state = await server.settled(config.start_timeout_s + 5)
        status = server.status()
    finally:
        await server.stop()
    if state == READY:
        return True, f"MCP server {name} starts: {len(status['tools'])} tools"
    reason = status.get("last_error") or f"still {state} after {config.start_timeout_s:g}s"
    return False, f"MCP server {name} fails to start: {reason}"

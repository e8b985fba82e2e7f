"""``McpFeature``: the declared MCP servers' tools for the agents that list them.

Servers start in the background when `roost run` starts (readiness does not wait
for them); each one's tools join the catalogue once it is up
(``ports.refresh_tools``). An agent gets them through ``tools:`` entries such as
``mcp:github`` (every tool of the server) or ``mcp:files/read_*`` (a glob on the
tools' own names); the model sees them as ``server__tool``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from roost.config.mcp_servers import MCP_PREFIX
from roost.features import Feature
from roost.mcp.approval import DENIED, NO_GATE, ApprovalGate
from roost.mcp.naming import RemoteTool, model_name
from roost.mcp.results import result_text
from roost.mcp.server import READY, STARTING, McpServer, ServerUnavailable
from roost.tools.registry import Tool, ToolContext, ToolError

if TYPE_CHECKING:
    from roost.features.methods import CallContext, Method
    from roost.ports import CorePorts


log = logging.getLogger(__name__)


class McpArguments(BaseModel):
    """Whatever the model passes: the server checks the arguments against its schema."""

    model_config = ConfigDict(extra="allow")


class McpFeature(Feature):
    name = "mcp"

    def __init__(self, core: CorePorts, approvals: ApprovalGate | None = None) -> None:
        self.core = core
        self.approvals = approvals
        logs = core.settings.home / "logs"
        self.servers = {
            name: McpServer(name, config, self._tools_changed, errlog=logs / f"mcp-{name}.log")
            for name, config in core.settings.mcp_servers.items()
        }

    async def start(self) -> None:
        # In the background: `roost run` is ready (gateway listening) without waiting.
        for server in self.servers.values():
            server.start()

    async def stop(self) -> None:
        await asyncio.gather(*(server.stop() for server in self.servers.values()))

    def _tools_changed(self) -> None:
        try:
            self.core.refresh_tools()
        except ValueError as exc:
            # Another feature has a tool of the same name: the catalogue stays as it was.
            log.error("MCP tools not offered: %s", exc)

    def tools(self) -> Sequence[Tool]:
        taken: set[str] = set()
        tools: list[Tool] = []
        for server in self.servers.values():
            for remote in server.tools:
                if remote.problem is None:
                    name = model_name(server.name, remote.name, taken)
                    tools.append(self._tool(server, remote.name, name, remote))
        return tools

    def _tool(self, server: McpServer, remote: str, name: str, listed: RemoteTool) -> Tool:
        source = f"{MCP_PREFIX}{server.name}/{remote}"
        ask = server.config.tools.get(remote) == "ask"

        async def call(context: ToolContext, args: McpArguments) -> str:
            arguments = dict(args.model_extra or {})
            if ask:
                await self._approve(context, server.name, remote, name, arguments)
            try:
                result = await server.call(remote, arguments)
            except ServerUnavailable as exc:
                raise ToolError(str(exc)) from None
            text = result_text(source, list(result.content))
            if result.is_error:
                raise ToolError(f"{name} failed: {text}")
            return text

        return Tool(
            name,
            listed.description or f"{remote} (MCP server {server.name})",
            McpArguments,
            call,
            input_schema=listed.input_schema,
            grant=source,
        )

    async def _approve(
        self, context: ToolContext, server: str, remote: str, name: str, arguments: dict[str, Any]
    ) -> None:
        summary = f"{name} {_short(arguments)}"
        if self.approvals is not None:
            allowed = await self.approvals.request(context.agent, name, summary)
        else:
            # The core's gate (the approvals feature): Telegram's buttons, approvals.*,
            # `roost approvals`; the turn lends its slot while it waits.
            gate = self.core.approvals()
            if gate is None:
                raise ToolError(NO_GATE.format(tool=name, server=server, remote=remote))
            decision = await gate.request(
                context.agent,
                name,
                summary,
                None,  # no "Always" pattern: an MCP call is approved one call at a time
                session=context.session,
                envelope_id=context.envelope_id,
            )
            allowed = decision.allows
        if not allowed:
            raise ToolError(DENIED.format(tool=name))

    def health(self) -> dict[str, Any]:
        servers = self.list_servers()
        states = {status["state"] for status in servers.values()}
        if states <= {READY}:
            state = "ok"
        elif states <= {READY, STARTING}:
            state = "starting"
        else:
            state = "degraded"
        return {"state": state, "servers": servers}

    def list_servers(self) -> dict[str, dict[str, Any]]:
        """Each server's state and tools (what `roost mcp list` and /healthz show)."""
        return {name: server.status() for name, server in self.servers.items()}

    def gateway_methods(self) -> Sequence[Method]:
        from roost.features.methods import Method, NoParams

        async def mcp_list(_: CallContext, __: NoParams) -> dict[str, Any]:
            return {"servers": self.list_servers()}

        return [Method("mcp.list", NoParams, mcp_list)]


def _short(arguments: dict[str, Any], limit: int = 300) -> str:
    text = json.dumps(arguments, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"

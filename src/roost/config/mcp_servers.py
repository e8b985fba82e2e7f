"""The ``mcp_servers:`` section: MCP servers agents may use tools from.

A server is either a command Roost starts and talks to over stdio (``command``,
``args``, ``env``, ``cwd``) or a streamable-HTTP endpoint (``url``, ``headers``).
Header and ``env`` values are secrets (tokens, mostly): they are kept as
``SecretStr`` so they never show in a ``repr``, a log line or an error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

SERVER_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
"""Server names become the prefix of tool names (``server__tool``), so they use the
providers' tool-name characters and leave room for the tool's own name."""

MCP_PREFIX = "mcp:"
"""How an agent's ``tools:`` entry names an MCP server (``mcp:github``, ``mcp:fs/read_*``)."""


class McpServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, SecretStr] = Field(default_factory=dict)
    """Added to a minimal environment (PATH, HOME…); Roost's own secrets are not passed."""
    cwd: Path | None = None
    url: str | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeout_s: float = Field(default=30.0, gt=0, le=3600)
    """How long one call may take; a call past it restarts the server."""
    start_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    """How long starting (and listing the tools) may take (``npx`` may download first)."""
    tools: dict[str, Literal["ask", "allow"]] = Field(default_factory=dict)
    """Per tool (its name on the server): ``ask`` waits for the owner's approval."""

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("set either command (a stdio server) or url (an HTTP server)")
        if self.url is not None and (self.args or self.env or self.cwd):
            raise ValueError("args, env and cwd are for a command; an url server takes headers")
        if self.command is not None and self.headers:
            raise ValueError("headers are for an url server; a command takes env")
        return self

    @field_validator("command")
    @classmethod
    def _command(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("should be an http:// or https:// URL")
        return value

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "stdio" if self.command is not None else "http"


def check_server_names(names: list[str]) -> list[str]:
    """Problems with the server names (the keys of ``mcp_servers``)."""
    return [
        f"mcp_servers.{name}: a server name is 1 to 32 of A-Z a-z 0-9 _ -"
        for name in names
        if not SERVER_NAME.fullmatch(name)
    ]


def mcp_entry_problem(entry: str, servers: list[str]) -> str | None:
    """Why an agent's ``mcp:<server>[/<glob>]`` tools entry is wrong, or None."""
    server, _, pattern = entry.removeprefix(MCP_PREFIX).partition("/")
    if server not in servers:
        known = ", ".join(servers) if servers else "none are declared under mcp_servers"
        return f"unknown MCP server '{server}' (known: {known})"
    if "/" in entry.removeprefix(MCP_PREFIX) and not pattern:
        return f"'{entry}': name tools after the '/', e.g. mcp:{server}/read_*"
    return None

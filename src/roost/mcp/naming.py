"""An MCP server's tools as the model sees them: names, descriptions and schemas.

Names become ``server__tool`` in the providers' charset (``^[a-zA-Z0-9_-]{1,64}$``),
unique across servers; descriptions are trimmed (every byte is sent on every model
call); an input schema must be a JSON object schema of bounded size.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

NAME_LIMIT = 64
DESCRIPTION_LIMIT_BYTES = 400
SCHEMA_LIMIT_BYTES = 8_192
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class RemoteTool:
    """A tool as its server lists it, checked (``problem`` says why it is not offered)."""

    name: str
    description: str
    input_schema: dict[str, Any]
    problem: str | None = None


def check_tool(name: Any, description: Any, schema: Any) -> RemoteTool:
    """The listed tool, with a trimmed description, or with the reason it is skipped."""
    text = trim_description(description if isinstance(description, str) else "")
    if not isinstance(name, str) or not name or len(name) > 256:
        return RemoteTool(_printable(str(name))[:64], text, {}, "its name is empty or too long")
    if not name.isprintable():
        # It is shown in `roost mcp list` and logs: no escape sequences, no line breaks.
        return RemoteTool(_printable(name), text, {}, "its name has control characters")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return RemoteTool(name, text, {}, "its input schema is not an object schema")
    try:
        size = len(json.dumps(schema, separators=(",", ":")).encode())
    except (TypeError, ValueError, RecursionError):
        return RemoteTool(name, text, {}, "its input schema is not plain JSON")
    if size > SCHEMA_LIMIT_BYTES:
        cap = SCHEMA_LIMIT_BYTES
        return RemoteTool(name, text, {}, f"its input schema is {size} B (cap {cap})")
    return RemoteTool(name, text, schema)


def _printable(text: str) -> str:
    return "".join(char if char.isprintable() else "?" for char in text)


def trim_description(text: str, limit: int = DESCRIPTION_LIMIT_BYTES) -> str:
    """One line of at most ``limit`` UTF-8 bytes (cut at a character, marked with …)."""
    line = " ".join(text.split())
    encoded = line.encode()
    if len(encoded) <= limit:
        return line
    return encoded[: limit - 3].decode(errors="ignore").rstrip() + "…"


def model_name(server: str, tool: str, taken: set[str]) -> str:
    """``server__tool`` in the providers' charset, unique among ``taken`` (then added)."""
    base = _NOT_NAME.sub("_", f"{server}__{tool}")[:NAME_LIMIT]
    name, number = base, 2
    while name in taken:
        suffix = f"_{number}"
        name = base[: NAME_LIMIT - len(suffix)] + suffix
        number += 1
    taken.add(name)
    return name

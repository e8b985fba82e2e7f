"""Tools are declared once here; providers turn the specs into each API's format.

A tool is a name, a short description, a pydantic model for its arguments (the
JSON schema is derived from it) and an async handler. Registration is explicit:
nothing is registered by importing a module.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from roost.providers.base import ToolCall, ToolSpec

log = logging.getLogger(__name__)


class ToolError(Exception):
    """A failure the model should read and may recover from (bad path, missing file…)."""


@dataclass(frozen=True)
class ToolContext:
    """What a tool may know about the turn that called it."""

    agent: str
    session: str
    workspace: Path
    depth: int = 0
    """Delegations that led to this turn (0: a person or a job asked)."""
    envelope_id: int | None = None


Handler = Callable[[ToolContext, Any], Awaitable[str]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    arguments: type[BaseModel]
    handler: Handler
    input_schema: dict[str, Any] | None = None
    """The JSON schema as given (an MCP server's), instead of the one ``arguments`` derives."""
    grant: str | None = None
    """Besides ``name``, what a ``tools:`` entry with a ``:`` may match: ``mcp:fs/read`` is
    granted by ``mcp:fs`` (the whole server) and by a glob such as ``mcp:fs/read_*``."""

    @cached_property
    def spec(self) -> ToolSpec:
        schema = self.input_schema or _compact_schema(self.arguments)
        return ToolSpec(self.name, self.description, schema)

    def granted_by(self, entry: str) -> bool:
        """True when the agent's ``tools:`` entry names this tool."""
        if entry == self.name:
            return True
        if self.grant is None or ":" not in entry:
            return False
        # The source is named whole; only the tool's part (after the "/") may be a glob.
        source, _, pattern = entry.partition("/")
        granted_source, _, tool = self.grant.partition("/")
        return source == granted_source and (not pattern or fnmatchcase(tool, pattern))


@dataclass(frozen=True)
class ToolOutcome:
    text: str
    is_error: bool


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = _by_name(tools)
        self._expanded: dict[tuple[str, ...], tuple[str, ...]] = {}

    def register(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        self._expanded.clear()

    def replace(self, tools: Iterable[Tool]) -> None:
        """Serve ``tools`` from now on (all at once; on a duplicate name, nothing changes)."""
        self._tools = _by_name(tools)
        self._expanded = {}

    def names(self) -> list[str]:
        return list(self._tools)

    def expand(self, entries: Iterable[str]) -> tuple[str, ...]:
        """The tool names an agent's ``tools:`` entries give it, in order, now.

        A plain name is itself; an entry with a ``:`` (``mcp:github``) names every tool
        it grants, which may change while Roost runs (cached until the tools change).
        """
        key = tuple(entries)
        names = self._expanded.get(key)
        if names is None:
            found: dict[str, None] = {}
            for entry in key:
                if ":" not in entry:
                    found[entry] = None
                    continue
                found.update((t.name, None) for t in self._tools.values() if t.granted_by(entry))
            names = self._expanded[key] = tuple(found)
        return names

    def specs(self, names: Iterable[str]) -> tuple[ToolSpec, ...]:
        return tuple(self._tools[name].spec for name in self.expand(names) if name in self._tools)

    async def run(
        self, call: ToolCall, context: ToolContext, allowed: Iterable[str]
    ) -> ToolOutcome:
        """Run one tool call. Every failure becomes an error result for the model."""
        tool = self._tools.get(call.name)
        if tool is None or call.name not in self.expand(allowed):
            return ToolOutcome(f"unknown tool '{call.name}'", True)
        try:
            arguments = tool.arguments.model_validate(call.arguments())
        except ValueError as exc:
            return ToolOutcome(f"invalid arguments for {call.name}: {_explain(exc)}", True)
        try:
            return ToolOutcome(await tool.handler(context, arguments), False)
        except ToolError as exc:
            # Expected (a refusal, a missing file): the model reads why; one line for us.
            log.info("tool %s for agent %s: %s", call.name, context.agent, _one_line(exc))
            return ToolOutcome(str(exc), True)
        except OSError as exc:
            # The world said no (permission, disk full): no traceback, no host paths.
            reason = exc.strerror or type(exc).__name__
            log.warning("tool %s failed for agent %s: %s", call.name, context.agent, reason)
            return ToolOutcome(f"{call.name} failed: {reason}", True)
        except Exception as exc:
            # A tool must never crash the turn; the traceback goes to the log for us.
            log.exception("tool %s failed for agent %s", call.name, context.agent)
            return ToolOutcome(f"{call.name} failed: {type(exc).__name__}: {exc}", True)


def _one_line(exc: Exception, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _by_name(tools: Iterable[Tool]) -> dict[str, Tool]:
    found: dict[str, Tool] = {}
    for tool in tools:
        if tool.name in found:
            raise ValueError(f"tool {tool.name!r} is already registered")
        found[tool.name] = tool
    return found


def _explain(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'arguments'}: {error['msg']}"
            for error in exc.errors()
        )
    return str(exc)


def _compact_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema without what a model does not need told: every byte is paid on
    every call (issue #12: a first "hello" with every tool <= 4,000 B).

    Left out, still enforced by the handler (pydantic) with a clear error:
    pydantic's titles; an optional field's ``null`` option (not being in ``required``
    already says it may be left out); bounds no sensible call is near: a string or list
    that must not be empty, a number that must be positive (``minimum`` <= 1,
    ``exclusiveMinimum`` 0), an integer's 64-bit ceiling; a flag's ``false`` default
    (leaving a flag out means off). Bounds a model could plausibly cross (a note's
    2,000 characters, at most 20 results) stay.
    """

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            node = _without_null_option(node)
            return {key: strip(value) for key, value in node.items() if not _unsaid(key, value)}
        if isinstance(node, list):
            return [strip(item) for item in node]
        return node

    schema: dict[str, Any] = strip(model.model_json_schema())
    return schema


_LOWER_BOUNDS = {"minLength", "minItems", "minimum"}
_JSON_EXACT_INTEGERS = 2**53


def _unsaid(key: str, value: Any) -> bool:
    """True for a schema keyword ``_compact_schema`` leaves out (see there)."""
    if key == "title" and isinstance(value, str):
        return True
    if isinstance(value, bool) or not isinstance(value, int | float):
        return key == "default" and value is False
    if key in _LOWER_BOUNDS:
        return value <= 1
    if key == "exclusiveMinimum":
        return value == 0
    return key == "maximum" and value >= _JSON_EXACT_INTEGERS


def _without_null_option(node: dict[str, Any]) -> dict[str, Any]:
    options = node.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
        return node
    kept = next(option for option in options if option != {"type": "null"})
    rest = {key: value for key, value in node.items() if key != "anyOf"}
    if "default" in rest and rest["default"] is None:
        del rest["default"]
    return {**kept, **rest}

"""The catalogue of tools that ship with Roost."""

from __future__ import annotations

from roost.tools.files import FILE_TOOLS
from roost.tools.registry import ToolRegistry


def builtin_registry() -> ToolRegistry:
    return ToolRegistry(FILE_TOOLS)


RUNTIME_TOOL_NAMES = ("send_message", "ask_agent", "schedule_job", "list_jobs", "cancel_job")
"""Tools bound to the running process (the router, the scheduler), registered by App."""


def builtin_tool_names() -> list[str]:
    return [tool.name for tool in FILE_TOOLS] + list(RUNTIME_TOOL_NAMES)

"""The catalogue of tools that ship with Roost and need nothing but a workspace.

Tools bound to the running process (delegation's, the scheduler's) come from their
features (``roost.builtin_features``), which name them for the configuration check.
"""

from __future__ import annotations

from roost.tools.files import FILE_TOOLS
from roost.tools.registry import ToolRegistry


def builtin_registry() -> ToolRegistry:
    return ToolRegistry(FILE_TOOLS)

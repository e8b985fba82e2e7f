"""The ``mcp`` SDK, imported in a worker thread.

Importing it (pydantic models for the whole protocol, its server half included)
takes over a second; on the event loop that would stall every turn, the gateway
and Telegram. ``load()`` imports it once in a thread; later calls return at once.
"""

from __future__ import annotations

import asyncio
import importlib
from types import ModuleType

_MODULES = (
    "mcp.client.session",
    "mcp.client.stdio",
    "mcp.client.streamable_http",
    "mcp.shared._httpx_utils",
    "mcp.shared.exceptions",
)
_loaded: dict[str, ModuleType] = {}


async def load() -> dict[str, ModuleType]:
    """The SDK's client modules by name (imported in a worker thread, once)."""
    if not _loaded:
        # Two servers may both get here: Python's import lock makes the second import
        # wait for the first, and both then find the modules imported.
        _loaded.update(await asyncio.to_thread(_import_all))
    return _loaded


def _import_all() -> dict[str, ModuleType]:
    return {name: importlib.import_module(name) for name in _MODULES}

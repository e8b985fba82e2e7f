"""Tools agents call: the registry, the workspace, and the tools that ship with Roost.

- ``registry``: `Tool`, `ToolRegistry`; errors are results the model reads;
- ``workspace``: confinement to an agent's directory; ``plainfile``: opening a file
  safely; ``files``, ``listing``, ``file_search``: the file tools; ``builtin``: the
  catalogue; ``untrusted``: content from outside marked as data;
- ``delegation``: the delegation feature's tools (a known exception to the layers);
  the scheduler's tools live with it (``roost.scheduler.agent_tools``).
"""

__all__ = [
    "builtin",
    "delegation",
    "file_search",
    "files",
    "listing",
    "plainfile",
    "registry",
    "untrusted",
    "workspace",
]

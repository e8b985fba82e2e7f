"""Tools agents call: the registry, the workspace, and the tools that ship with Roost.

- ``registry``: `Tool`, `ToolRegistry`; errors are results the model reads;
- ``workspace``: confinement to an agent's directory; ``files``, ``listing``: the file
  tools; ``builtin``: the catalogue;
- ``delegation``: the delegation feature's tools (a known exception to the layers);
  the scheduler's tools live with it (``roost.scheduler.agent_tools``).
"""

__all__ = [
    "builtin",
    "delegation",
    "files",
    "listing",
    "registry",
    "workspace",
]

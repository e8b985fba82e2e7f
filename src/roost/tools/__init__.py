"""Tools agents call: the registry, the workspace, and the tools that ship with Roost.

- ``registry``: `Tool`, `ToolRegistry`; errors are results the model reads;
- ``workspace``: confinement to an agent's directory; ``files``, ``listing``: the file
  tools; ``builtin``: the catalogue;
- ``delegation``, ``scheduling``: tools of the delegation and scheduler features
  (known exceptions to the layers, issue #11).
"""

__all__ = [
    "builtin",
    "delegation",
    "files",
    "listing",
    "registry",
    "scheduling",
    "workspace",
]

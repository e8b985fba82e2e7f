"""MCP servers as a feature: their tools, offered to the agents that list them.

- ``naming``: a server's tools as the model sees them (``server__tool``, short
  descriptions, checked schemas);
- ``results``: a call's result as text for the model, capped and marked untrusted;
- ``server``: one server's connection, supervised (restarted with backoff);
- ``feature``: ``McpFeature`` (tools, health, lifespan, the ``mcp.list`` method);
- ``approval``: the narrow gate ``ask`` tools wait on;
- ``probe``: start a server briefly (``roost doctor``).

The ``mcp`` SDK takes over a second to import, so it is imported in a worker
thread (``sdk.load``), never on the event loop, and only when a server is declared.
"""

__all__ = ["approval", "feature", "naming", "probe", "results", "sdk", "server"]

"""The web feature: ``http_fetch`` (public addresses only, unless an agent's config
lists private ones) and ``web_search`` (through a configured backend).

- ``addresses``: which addresses may be fetched, and the resolver;
- ``fetch``: the GET, pinned to the checked address, redirects followed by hand;
- ``extract``: HTML to Markdown; ``search``: SearXNG and Brave;
- ``feature``: the tools, as a ``Feature``.
"""

__all__ = ["addresses", "extract", "feature", "fetch", "search"]

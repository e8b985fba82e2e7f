"""The gateway: WebSocket and HTTP API inside `roost run`.

A feature over the core. ``service`` is the Service; ``server`` runs Starlette on
uvicorn in the same loop; ``protocol``, ``methods`` and ``handlers`` are the WebSocket
RPC, ``connection`` and ``ws_endpoint`` its connections (the outbox reaches ``ws:``
clients through ``roost.channels.websocket``); ``http_api``, ``models`` and
``openapi`` the REST API; ``auth``,
``origin``, ``exposure`` and ``clients`` who may connect; ``discovery`` the
``gateway.json`` and ``gateway.token`` files clients read; ``port_holder`` who holds
a port already in use; ``metrics`` (``prometheus`` loaded at the first scrape),
``queries`` and ``state`` what it reports and shares.
"""

__all__ = [
    "auth",
    "clients",
    "connection",
    "discovery",
    "exposure",
    "handlers",
    "http_api",
    "methods",
    "metrics",
    "models",
    "openapi",
    "origin",
    "port_holder",
    "prometheus",
    "protocol",
    "queries",
    "server",
    "service",
    "state",
    "ws_endpoint",
]

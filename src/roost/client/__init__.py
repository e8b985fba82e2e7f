"""Clients of a running gateway: `roost chat`, and `roost ask` when a gateway is up.

Kept light on purpose: nothing here imports Roost's pydantic models, SQLAlchemy or a
model SDK, so a command that only talks to the gateway starts in a fraction of the
time an in-process turn needs. Import the submodules directly:

- ``gateway_client``: `GatewayClient`, one WebSocket connection (and, re-exported,
  everything below that callers need with it);
- ``errors``, ``events``, ``location``: its errors, its events, finding the gateway;
- ``remote_turn``: one turn through the gateway, as `roost ask` runs it;
- ``config_without_pydantic``, ``render``: the config read without pydantic; a turn on a terminal.
"""

__all__ = [
    "config_check",
    "config_without_pydantic",
    "errors",
    "events",
    "gateway_client",
    "location",
    "remote_turn",
    "render",
]

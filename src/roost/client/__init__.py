"""Clients of a running gateway: `roost chat`, and `roost ask` when a gateway is up.

Kept light on purpose: nothing here imports Roost's pydantic models, SQLAlchemy or a
model SDK, so a command that only talks to the gateway starts in a fraction of the
time an in-process turn needs. Import the submodules directly
(``roost.client.gateway_client``, ``roost.client.config_peek``).
"""

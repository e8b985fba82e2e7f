"""Approvals: tools that wait for the owner's decision, and the ``shell`` tool.

- ``gate``: the approval gate (requests, decisions, the timeout, restarts);
- ``store``: the ``approvals`` and ``allowed_patterns`` tables;
- ``service``: the feature (the gate, the ``shell`` tool, the WebSocket methods);
- ``gateway_methods``: ``approvals.list`` and ``approvals.decide``.
"""

__all__ = ["gate", "gateway_methods", "service", "store"]

"""The bus: envelopes, the durable inbox and outbox, the router and live events.

The top of the core: features hand messages to the router and read events; nothing
in the core imports a feature.

- ``envelope``: envelopes (to agents), deliveries (to channels) and addresses;
- ``router``: `Router.submit` / `ask`, the one way a message reaches an agent;
- ``store``: the inbox and outbox tables; ``slots``: how many turns at once;
- ``dispatcher``: the outbox's delivery side (lanes, retries); ``agent_channel``:
  deliveries addressed to agents;
- ``events``: live pub/sub; ``observer``: a turn's progress as events.
"""

__all__ = [
    "agent_channel",
    "dispatcher",
    "envelope",
    "events",
    "observer",
    "router",
    "slots",
    "store",
]

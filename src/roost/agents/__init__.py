"""Agents: the actor that runs one turn at a time per session, and the turn itself.

Core layer below the bus, above providers, tools, store and ledger.

- ``actor``: `Agent`, a mailbox with one lane per session, supervised;
- ``turn``: `run_turn`, from a message in to a final answer out, with the tool loop;
- ``context``: which part of a session's history goes into the next model call;
- ``observer``: what a turn reports while it runs (kept free of heavy imports).
"""

__all__ = [
    "actor",
    "context",
    "observer",
    "turn",
]

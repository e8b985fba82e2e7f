"""How a turn stands: the one set of values every layer stores, sends and compares.

It lives in the store, the lowest layer that knows turns (the ``turns`` table keeps it),
so the store, agents, bus, scheduler, gateway and CLI share it without an arrow pointing
up. A ``StrEnum``: each member is its string, so the stored and wire values are the
same plain strings as ever (``"ok"``, ``"running"``, ...), and a value read back from the
database or a JSON frame compares equal to its member.
"""

from __future__ import annotations

from enum import StrEnum


class TurnStatus(StrEnum):
    RUNNING = "running"
    """Stored when the turn starts; left so by a process killed mid-turn."""
    OK = "ok"
    ERROR = "error"
    MAX_ROUNDS = "max_rounds"
    OVER_BUDGET = "over_budget"
    INTERRUPTED = "interrupted"
    """Cancelled (shutdown, Ctrl+C, ``chat.cancel``), or found running at start."""
    UNCONFIGURED = "unconfigured"
    """A turn that found no model provider: its user message stays stored (shown by
    `roost history`) but is left out of the context of later turns, which would
    otherwise see it as a question nobody answered."""
    UNKNOWN_AGENT = "unknown_agent"
    """Never stored as a turn: the router's answer to a message for no such agent."""


__all__ = ["TurnStatus"]

"""What a model call was for: every ledger row records its role."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["LedgerRole"]


class LedgerRole(StrEnum):
    """The role of one model call, so ``roost cost --by role`` can show what each cost."""

    ROUTINE = "routine"
    """An agent's own turn on its (routine) model."""
    PLANNER = "planner"
    """A call on the agent's planner model."""
    SUMMARY = "summary"
    """Summarising the oldest turns of a conversation that no longer fits."""
    FALLBACK = "fallback"
    """A call served by a fallback model after the primary failed."""

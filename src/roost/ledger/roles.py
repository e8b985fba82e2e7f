"""What a model call was for: each ledger row records its role, so reports say what each cost."""

from __future__ import annotations

from enum import StrEnum


class LedgerRole(StrEnum):
    ROUTINE = "routine"
    """The agent's own turn on its routine model."""
    PLANNER = "planner"
    """A call on the agent's strong planner model (the ``plan`` tool, or a turn asked for it)."""
    SUMMARY = "summary"
    """Compaction: summarising history that no longer fits the context."""
    FALLBACK = "fallback"
    """A call that went to the next model in the chain after the first one failed."""

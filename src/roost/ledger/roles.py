"""Why a model call was made: the role every ledger row records."""

from __future__ import annotations

from enum import StrEnum


class LedgerRole(StrEnum):
    """What a model call was for, so reports can say what each kind of work cost."""

    ROUTINE = "routine"
    """An agent's ordinary turn, on its (cheap) routine model."""
    PLANNER = "planner"
    """A call on the agent's strong planner model."""
    SUMMARY = "summary"
    """Compacting a long conversation: summarising what scrolled out of the context."""
    FALLBACK = "fallback"
    """A call that went to the next model of the fallback chain after a failure."""

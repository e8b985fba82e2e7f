"""The approval gate: how a tool asks the owner before it acts, whatever the tool.

A tool (the shell, an MCP tool marked ``ask``) calls ``await gate.request(...)``
and gets a ``Decision``; while it waits, the turn holds no turn slot. The gate is
given by the approvals feature (``roost.approvals``) and found through the core's
ports (``CorePorts.approvals()``), so Telegram, the gateway and the CLI decide
through it without knowing the tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

APPROVALS_TOPIC = "approvals"
"""Live events ``approval.requested`` and ``approval.decided`` (the approval's dict)."""


class Decision(StrEnum):
    APPROVED = "approved"
    ALWAYS = "always"
    """Approved, and ``pattern`` joins the agent's persisted allowlist for the tool."""
    DENIED = "denied"
    TIMED_OUT = "timed_out"
    """Nobody decided in time: denied."""
    ABANDONED = "abandoned"
    """Its turn was cancelled, or Roost stopped, while it waited: denied (at the next
    start, if Roost was killed)."""
    NO_APPROVER = "no_approver"
    """Nobody can be asked in this process (not `roost run`): denied at once."""

    @property
    def allows(self) -> bool:
        return self in (Decision.APPROVED, Decision.ALWAYS)


@dataclass(frozen=True)
class ApprovalRequest:
    """What a tool asks: ``summary`` is what the owner reads (the command line)."""

    agent: str
    tool: str
    summary: str
    pattern: str | None = None
    """What "Always" would allow from now on; None: "Always" is not offered."""
    session: str = ""
    envelope_id: int | None = None
    """The message whose turn waits (its turn slot is lent while it waits)."""


class DecideError(Exception):
    """Deciding failed: unknown id, decided already. ``code``: ``not_found``, ``decided``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ApprovalGate(Protocol):
    async def request(
        self,
        agent: str,
        tool: str,
        summary: str,
        pattern: str | None = None,
        *,
        session: str = "",
        envelope_id: int | None = None,
    ) -> Decision:
        """Wait for the owner's decision (or the timeout's) on ``agent`` using ``tool``
        as ``summary`` says; ``pattern`` is what "Always" allows from then on (None:
        not offered); ``envelope_id``'s turn lends its slot while it waits."""
        ...

    async def decide(self, approval_id: int, decision: Decision, decided_by: str) -> dict[str, Any]:
        """Decide a pending approval (``approved``, ``denied`` or ``always``); returns
        it as a dict. Raises ``DecideError`` when it is unknown or decided already."""
        ...

    async def pending(self) -> list[dict[str, Any]]:
        """The approvals waiting for a decision, oldest first."""
        ...

    async def allowed_patterns(self, agent: str, tool: str) -> list[str]:
        """The patterns "Always" added for ``agent``'s ``tool`` (kept in the store)."""
        ...

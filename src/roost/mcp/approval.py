"""The gate an ``ask`` tool waits on: the owner approves or denies each call.

Only the narrow protocol is here; the gate itself (Telegram buttons, the WebSocket
API, `roost approvals`) belongs to the approvals feature. Without one, ``ask``
tools are refused with a message that says so.
"""

from __future__ import annotations

from typing import Protocol


class ApprovalGate(Protocol):
    async def request(self, agent: str, tool: str, summary: str) -> bool:
        """Ask the owner whether ``agent`` may run ``tool`` as ``summary`` describes;
        True once approved, False when denied or timed out."""
        ...


NO_GATE = (
    "{tool} needs the owner's approval (mcp_servers.{server}.tools.{remote}: ask), "
    "and approvals are not available in this Roost; the call was not made"
)
DENIED = "the owner did not approve this call of {tool}; it was not made"

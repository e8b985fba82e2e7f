"""Approvals as a feature: the approval gate, and the ``shell`` tool that asks through it.

Present in every process that runs turns (the ``shell`` tool is), it asks the owner
only while `roost run` serves (its lifespan). It gives the gate to the core's ports
(``CorePorts.approvals()``: Telegram's buttons, an MCP tool marked ``ask``) and the
``approvals.list`` / ``approvals.decide`` WebSocket methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from roost.approvals.gate import ApprovalGate
from roost.approvals.store import ApprovalStore
from roost.features.contract import Feature
from roost.timing.clock import Clock
from roost.tools.shell import ShellTool

if TYPE_CHECKING:
    from roost.features.methods import Method
    from roost.ports import CorePorts
    from roost.tools.registry import Tool


class ApprovalsService(Feature):
    name = "approvals"

    def __init__(self, core: CorePorts, clock: Clock | None = None) -> None:
        self._settings = core.settings
        self.store = ApprovalStore(core.store)
        self.gate = ApprovalGate(
            self.store,
            core.events,
            core.inbox.waiting_without_slot,
            core.settings.approvals.timeout_s,
            clock,
        )
        self.shell = ShellTool(core.settings, self.gate)

    def tools(self) -> Sequence[Tool]:
        return [self.shell.tool()]

    def approval_gate(self) -> ApprovalGate:
        return self.gate

    def gateway_methods(self) -> Sequence[Method]:
        from roost.approvals.gateway_methods import approval_methods

        return approval_methods(self.gate)

    async def start(self) -> None:
        await self.gate.abandon_stale()
        self.gate.serving = True
        if any("shell" in agent.tools for agent in self._settings.agents.values()):
            await self.shell.sandbox()  # probed (and a warning logged) at start, not mid-turn

    async def stop(self) -> None:
        self.gate.serving = False

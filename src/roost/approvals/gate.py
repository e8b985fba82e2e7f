"""The approval gate: a tool's request waits here for the owner (or the timeout).

A request is stored (``approvals`` table) and announced (``approval.requested`` on
the ``approvals`` topic: Telegram sends its buttons, gateway clients see it), then
waits — its turn lending its turn slot — for ``decide`` (Telegram, WebSocket, CLI)
or the timeout (``approvals.timeout_s``: denied, ``timed_out``). Each decision is
announced too (``approval.decided``).

Only a process that serves (`roost run`) asks: elsewhere (``roost ask`` without a
gateway) nobody could answer, so a request is refused at once (``no_approver``). A
turn from the inbox that asks before the features have started (one re-run at start)
waits up to ``START_GRACE_S`` for `roost run` to be serving.
When Roost stops, requests still waiting are denied (``abandoned``); at the next
start, any request a killed process left pending is marked ``abandoned`` too — never
re-asked, since the turn that asked is re-run from its message and asks again if
it still wants to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

from roost.approvals.store import Approval, ApprovalStore
from roost.bus.events import EventHub
from roost.timing.clock import Clock, SystemClock
from roost.tools.approval import APPROVALS_TOPIC, DecideError, Decision

log = logging.getLogger(__name__)

LendSlot = Callable[[int | None], AbstractAsyncContextManager[None]]
"""``CorePorts.inbox.waiting_without_slot``: the turn's slot is lent while it waits."""
_OWNER_DECISIONS = (Decision.APPROVED, Decision.DENIED, Decision.ALWAYS)
START_GRACE_S = 30.0


class ApprovalGate:
    def __init__(
        self,
        store: ApprovalStore,
        events: EventHub,
        lend_slot: LendSlot,
        timeout_s: float,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._events = events
        self._lend_slot = lend_slot
        self._timeout = timedelta(seconds=timeout_s)
        self._clock = clock or SystemClock()
        self._waiting: dict[int, asyncio.Future[Decision]] = {}
        self._serving = asyncio.Event()

    @property
    def serving(self) -> bool:
        """True while `roost run` serves: only then is anyone asked."""
        return self._serving.is_set()

    @serving.setter
    def serving(self, value: bool) -> None:
        if value:
            self._serving.set()
        else:
            self._serving.clear()

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
        if not await self._someone_to_ask(envelope_id):
            return Decision.NO_APPROVER
        approval = await self._store.add(agent, tool, summary, pattern, session, envelope_id)
        decided: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._waiting[approval.id] = decided
        log.info("approval %d: %s asks to use %s; waiting for the owner", approval.id, agent, tool)
        self._events.publish(APPROVALS_TOPIC, "approval.requested", approval.to_dict())
        try:
            async with self._lend_slot(envelope_id):
                return await self._wait(approval.id, decided)
        finally:
            self._waiting.pop(approval.id, None)

    async def _someone_to_ask(self, envelope_id: int | None) -> bool:
        if self.serving:
            return True
        if envelope_id is None:  # a turn run directly (`roost ask` without a gateway)
            return False
        try:  # a turn re-run at start may ask before the features are up
            await asyncio.wait_for(self._serving.wait(), START_GRACE_S)
        except TimeoutError:
            return False
        return True

    async def _wait(self, approval_id: int, decided: asyncio.Future[Decision]) -> Decision:
        deadline = self._clock.now() + self._timeout
        ring = asyncio.Event()
        decided.add_done_callback(lambda _: ring.set())
        try:
            await self._clock.sleep_until(deadline, ring)
        except asyncio.CancelledError:
            # The turn was cancelled (`/stop`, chat.cancel) or Roost is stopping.
            await asyncio.shield(self._record(approval_id, Decision.ABANDONED, "cancelled"))
            raise
        if decided.done():
            return decided.result()
        found = await self._record(approval_id, Decision.TIMED_OUT, "timeout")
        if found is None and decided.done():  # decided in the same moment: that wins
            return decided.result()
        return Decision.TIMED_OUT

    async def decide(self, approval_id: int, decision: Decision, decided_by: str) -> dict[str, Any]:
        if decision not in _OWNER_DECISIONS:
            raise ValueError(f"an owner decides approved, denied or always, not {decision}")
        approval = await self._record(approval_id, decision, decided_by)
        if approval is None:
            existing = await self._store.get(approval_id)
            if existing is None:
                raise DecideError("not_found", f"no approval {approval_id}")
            raise DecideError(
                "decided",
                f"approval {approval_id} was decided already ({existing.state}"
                + (f" by {existing.decided_by})" if existing.decided_by else ")"),
            )
        waiter = self._waiting.get(approval_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(decision)
        return approval.to_dict()

    async def _record(self, approval_id: int, decision: Decision, by: str) -> Approval | None:
        approval = await self._store.decide(approval_id, decision.value, by)
        if approval is not None:
            log.info("approval %d: %s by %s", approval_id, decision.value, by)
            self._events.publish(APPROVALS_TOPIC, "approval.decided", approval.to_dict())
        return approval

    async def pending(self) -> list[dict[str, Any]]:
        return [approval.to_dict() for approval in await self._store.pending()]

    async def allowed_patterns(self, agent: str, tool: str) -> list[str]:
        return await self._store.patterns(agent, tool)

    async def abandon_stale(self) -> int:
        """Deny what a previous process left pending (its turns are re-run, not resumed)."""
        ids = await self._store.abandon_pending(set(self._waiting), "restart")
        for approval_id in ids:
            found = await self._store.get(approval_id)
            if found is not None:
                self._events.publish(APPROVALS_TOPIC, "approval.decided", found.to_dict())
        if ids:
            log.warning(
                "denied %d approval(s) a previous process left waiting (their turns run again)",
                len(ids),
            )
        return len(ids)

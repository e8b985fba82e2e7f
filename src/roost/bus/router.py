"""The router: every message to an agent goes through here, and through the inbox.

``submit`` stores the envelope before it returns (that is the acknowledgement),
then runs the turn in the background; ``ask`` does the same and waits for the
answer. When the turn ends, its envelope ends in one place, ``bus/envelope_end.py``:
the envelope marked finished and its replies queued in the outbox in one transaction
(the turn's final answer's, when there is one), then handed to the dispatcher.

What a finished turn produces depends on who sent the message: by default one reply
to ``reply_to``; a feature's ``Finisher`` for its sender scheme decides otherwise (the
scheduler's for ``job:``), given at construction (``finishers``).
How many turns go on at once, and which next, is ``bus/slots.py``'s business.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from roost.agents.actor import Agent, AgentStopped
from roost.agents.observer import TurnObserver
from roost.agents.turn import TurnOrigin, TurnResult
from roost.bus.envelope import Delivery, Envelope, agent_name, split_address
from roost.bus.envelope_end import EnvelopeEnd, Finisher, without_text
from roost.bus.events import AGENTS, TRAFFIC, EventHub
from roost.bus.observer import SessionEvents
from roost.bus.slots import DEFAULT_MAX_TURNS, TurnSlots
from roost.bus.store import BusStore
from roost.store.turn_status import TurnStatus

__all__ = ["Router", "RouterStopped"]

log = logging.getLogger(__name__)

_STOPPED_BEFORE_ANSWER = "Roost stopped before answering; the message runs at the next start"


class RouterStopped(Exception):
    """The process is shutting down; the message was not accepted."""


class Router:
    """``finishers`` maps a sender scheme (``job`` for ``job:nightly``) to what ends its
    envelopes' turns; it is read when a turn ends, so the App may hand over a mapping
    of features built after the router (they get it as their inbox)."""

    def __init__(
        self,
        store: BusStore,
        agents: Mapping[str, Agent],
        events: EventHub,
        on_queued: Callable[[list[Delivery]], None] | None = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        finishers: Mapping[str, Finisher[Any]] | None = None,
    ) -> None:
        self._store = store
        self._agents = agents
        self._events = events
        self._on_queued = on_queued
        self._finishers: Mapping[str, Finisher[Any]] = {} if finishers is None else finishers
        self._waiters: dict[int, asyncio.Future[TurnResult]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._accepting = True
        self._stopped = False
        self._slots = TurnSlots(self._spawn, max_turns)

    def set_max_turns(self, max_turns: int) -> None:
        """Change how many turns go on at once (at least 1)."""
        self._slots.set_max_turns(max_turns)

    @property
    def max_turns(self) -> int:
        return self._slots.max_turns

    @property
    def in_flight(self) -> int:
        """Turns going on (their messages' tasks)."""
        return len(self._tasks)

    @property
    def waiting(self) -> int:
        """Accepted messages waiting for a turn slot (``max_turns``)."""
        return self._slots.waiting

    async def idle(self) -> None:
        """Return once no turn is going on or waiting for a slot (at once if none is).

        A turn that ends admits the next waiting one before this wakes up, so a message
        waiting behind a slot is not missed.
        """
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    def waiting_without_slot(self, envelope_id: int | None) -> AbstractAsyncContextManager[None]:
        """While the block waits (for the owner's approval), the turn of ``envelope_id``
        lends its turn slot to another; it takes one back when the block ends."""
        return self._slots.waiting_without_slot(envelope_id)

    @property
    def accepting(self) -> bool:
        """Whether new messages are taken (False once ``close`` or ``stop`` was called)."""
        return self._accepting

    async def submit(self, envelope: Envelope) -> Envelope:
        """Store the envelope, start its turn in the background, return it with its id.

        A duplicate (same ``dedup_key``) is returned as stored and not run again.
        """
        stored, duplicate = await self._accept(envelope)
        if not duplicate:
            self._start(stored)
        return stored

    async def submit_many(self, envelopes: Sequence[Envelope]) -> list[tuple[Envelope, bool]]:
        """``submit`` for several envelopes, stored in one transaction.

        Returns ``(envelope as stored, duplicate)`` for each, in order.
        """
        if not self._accepting:
            raise RouterStopped("Roost is shutting down; try again in a moment")
        for envelope in envelopes:
            split_address(envelope.recipient)
        stored = await self._store.accept_many(envelopes)
        self.accepted(stored)
        return stored

    def accepted(self, stored: Sequence[tuple[Envelope, bool]]) -> None:
        """Envelopes stored by another transaction (``bus.store.AcceptedEnvelopes``, e.g. the
        scheduler's, with its runs): announce them and start their turns, as ``submit``.

        The caller checks ``accepting`` before it stores them; envelopes stored while
        the router was closing are started all the same (they were accepted: a closed
        router lets accepted turns go on), and after ``stop`` run at the next start.
        """
        for envelope, duplicate in stored:
            if duplicate:
                continue
            if self._events.watched(TRAFFIC):
                self._events.publish(TRAFFIC, "message", _traffic(envelope))
            self._start(envelope)

    async def ask(self, envelope: Envelope, timeout_s: float | None = None) -> TurnResult:
        """Store the envelope, run its turn and wait for the result.

        On timeout the turn goes on (its answer lands in the session history) and
        ``TimeoutError`` is raised.
        """
        stored, duplicate = await self._accept(envelope)
        if self._stopped:  # while it was being stored
            raise RouterStopped(_STOPPED_BEFORE_ANSWER)
        future: asyncio.Future[TurnResult] = asyncio.get_running_loop().create_future()
        self._waiters[stored.id] = future
        if not duplicate:
            self._start(stored)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        finally:
            self._waiters.pop(stored.id, None)

    async def recover(self) -> int:
        """Run again every envelope a previous process accepted but did not finish."""
        unfinished = await self._store.unfinished()
        for envelope in unfinished:
            self._start(envelope, recovered=True)
        if unfinished:
            log.warning("running %d message(s) left unfinished by the last run", len(unfinished))
        return len(unfinished)

    def close(self) -> None:
        """Refuse new messages (``RouterStopped``); turns already accepted go on."""
        self._accepting = False

    async def stop(self) -> None:
        """Stop accepting; turns still running are left pending and run at the next start.

        Whoever waits in ``ask`` is told (``RouterStopped``) rather than left waiting for
        an answer this process will not give.
        """
        self._accepting = False
        self._stopped = True
        self._slots.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(RouterStopped(_STOPPED_BEFORE_ANSWER))

    async def _accept(self, envelope: Envelope) -> tuple[Envelope, bool]:
        if not self._accepting:
            raise RouterStopped("Roost is shutting down; try again in a moment")
        split_address(envelope.recipient)
        stored, duplicate = await self._store.accept(envelope)
        if not duplicate and self._events.watched(TRAFFIC):
            self._events.publish(TRAFFIC, "message", _traffic(stored))
        return stored, duplicate

    def _start(self, envelope: Envelope, *, recovered: bool = False) -> None:
        self._slots.start(envelope, recovered)

    def _spawn(self, envelope: Envelope, recovered: bool) -> asyncio.Task[None]:
        task = asyncio.create_task(self._process(envelope, recovered), name=f"env:{envelope.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _process(self, envelope: Envelope, recovered: bool) -> None:
        scheme = envelope.sender.partition(":")[0]
        end = EnvelopeEnd(self._store, envelope, self._finishers.get(scheme))
        try:
            result = await self._run(envelope, recovered, end)
        except (asyncio.CancelledError, AgentStopped):
            return  # stopping: the envelope stays pending and runs at the next start
        except Exception as exc:
            log.exception("message %d to %s failed", envelope.id, envelope.recipient)
            result = _failed(envelope, f"internal error: {type(exc).__name__}: {exc}")
        await self._finish(envelope, result, end)

    async def _run(self, envelope: Envelope, recovered: bool, end: EnvelopeEnd[Any]) -> TurnResult:
        name = agent_name(envelope.recipient)
        agent = self._agents.get(name or "")
        if agent is None:
            known = ", ".join(self._agents) or "none"
            return _failed(
                envelope, f"unknown agent '{name}' (known: {known})", TurnStatus.UNKNOWN_AGENT
            )
        origin = TurnOrigin(
            envelope_id=envelope.id,
            sender=envelope.sender,
            depth=envelope.depth,
            model=envelope.meta.get("model"),
            planner=envelope.meta.get("planner") is True,
            recovered=recovered,
            on_answer=end,  # stored with the turn's final answer, in its transaction
        )
        observer: TurnObserver = SessionEvents(self._events, agent.name, envelope)
        self._events.publish(AGENTS, "turn.started", _turn_started(envelope))
        return await agent.ask(envelope.session, envelope.body, observer, origin)

    async def _finish(self, envelope: Envelope, result: TurnResult, end: EnvelopeEnd[Any]) -> None:
        queued = await end.record(result)
        if queued is None:
            return
        self._events.publish(AGENTS, "turn.finished", _turn_finished(envelope, result))
        await end.tell_finisher(result, queued)
        if queued and self._on_queued:
            self._on_queued(queued)
        waiter = self._waiters.get(envelope.id)
        if waiter and not waiter.done():
            waiter.set_result(result)


def _failed(envelope: Envelope, text: str, status: TurnStatus = TurnStatus.ERROR) -> TurnResult:
    name = agent_name(envelope.recipient) or envelope.recipient
    return TurnResult(agent=name, session=envelope.session, text=text, status=status, error=text)


def _traffic(envelope: Envelope) -> dict[str, Any]:
    return {
        "id": envelope.id,
        "from": envelope.sender,
        "to": envelope.recipient,
        "session": envelope.session,
        "text": envelope.body,
        "depth": envelope.depth,
        "reply_to": envelope.reply_to,
    }


def _turn_started(envelope: Envelope) -> dict[str, Any]:
    return {
        "agent": agent_name(envelope.recipient),
        "session": envelope.session,
        "message_id": envelope.id,
        "from": envelope.sender,
    }


def _turn_finished(envelope: Envelope, result: TurnResult) -> dict[str, Any]:
    # Without the text: every watcher of the agents topic gets every turn's end, while
    # the answer itself goes to whoever asked (and to the session's watchers as deltas).
    return {**without_text(result), "message_id": envelope.id}

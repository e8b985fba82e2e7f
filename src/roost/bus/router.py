"""The router: every message to an agent goes through here, and through the inbox.

``submit`` stores the envelope before it returns (that is the acknowledgement),
then runs the turn in the background; ``ask`` does the same and waits for the
answer. When the turn ends, the envelope is marked finished and its replies are
queued in the outbox in one transaction, then handed to the dispatcher.

What a finished turn produces depends on who sent the message: by default one reply
to ``reply_to``; the scheduler registers its own ``Finisher`` for ``job:`` senders.
How many turns go on at once, and which next, is ``bus/slots.py``'s business.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from sqlalchemy import Connection

from roost.agents.actor import Agent, AgentStopped
from roost.agents.observer import TurnObserver
from roost.agents.turn import TurnOrigin, TurnResult
from roost.bus.envelope import (
    ENVELOPE_CANCELLED,
    ENVELOPE_DONE,
    Delivery,
    Envelope,
    agent_address,
    agent_name,
    split_address,
)
from roost.bus.events import AGENTS, TRAFFIC, EventHub
from roost.bus.observer import SessionEvents
from roost.bus.slots import DEFAULT_MAX_TURNS, TurnSlots
from roost.bus.store import BusStore, Finishing
from roost.store.conversations import Write
from roost.store.turn_status import TurnStatus

log = logging.getLogger(__name__)

FINISH_ATTEMPTS = 5
_STOPPED_BEFORE_ANSWER = "Roost stopped before answering; the message runs at the next start"


class RouterStopped(Exception):
    """The process is shutting down; the message was not accepted."""


class Finisher(Protocol):
    """Decides what a finished turn sends, and records it (e.g. the scheduler's job runs)."""

    def replies(self, envelope: Envelope, result: TurnResult) -> list[Delivery]: ...

    def with_answer(self, envelope: Envelope, result: TurnResult) -> Write | None:
        """More to store in the transaction of the turn's final answer and the envelope's
        end (e.g. the job run's end); None for nothing."""
        ...

    async def finished(
        self,
        envelope: Envelope,
        result: TurnResult,
        queued: list[Delivery],
        stored: Write | None,
    ) -> None:
        """The envelope is finished; ``stored`` is what ``with_answer`` gave if it was
        committed with the answer (None if it was not, or not asked for)."""
        ...


class Router:
    def __init__(
        self,
        store: BusStore,
        agents: Mapping[str, Agent],
        events: EventHub,
        on_queued: Callable[[list[Delivery]], None] | None = None,
        max_turns: int = DEFAULT_MAX_TURNS,
    ) -> None:
        self._store = store
        self._agents = agents
        self._events = events
        self._on_queued = on_queued
        self._finishers: dict[str, Finisher] = {}
        self._waiters: dict[int, asyncio.Future[TurnResult]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._accepting = True
        self._stopped = False
        self._slots = TurnSlots(self._spawn, max_turns)

    def set_finisher(self, sender_scheme: str, finisher: Finisher) -> None:
        self._finishers[sender_scheme] = finisher

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
        """Envelopes stored by another transaction (``bus.store.Accepting``, e.g. the
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
        # A turn's final answer is stored together with the envelope's end and its
        # replies (and what the sender's finisher adds): one transaction less, or more,
        # on every turn's path.
        scheme = envelope.sender.partition(":")[0]
        answer = _Answer(self._store, envelope, self._finishers.get(scheme))
        try:
            result = await self._run(envelope, recovered, answer)
        except (asyncio.CancelledError, AgentStopped):
            return  # stopping: the envelope stays pending and runs at the next start
        except Exception as exc:
            log.exception("message %d to %s failed", envelope.id, envelope.recipient)
            result = _failed(envelope, f"internal error: {type(exc).__name__}: {exc}")
        await self._finish(envelope, result, answer)

    async def _run(
        self, envelope: Envelope, recovered: bool, answer: _Answer | None = None
    ) -> TurnResult:
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
            recovered=recovered,
            on_answer=answer,
        )
        observer: TurnObserver = SessionEvents(self._events, agent.name, envelope)
        self._events.publish(AGENTS, "turn.started", _turn_started(envelope))
        return await agent.ask(envelope.session, envelope.body, observer, origin)

    async def _finish(
        self, envelope: Envelope, result: TurnResult, answer: _Answer | None = None
    ) -> None:
        scheme = envelope.sender.partition(":")[0]
        finisher = self._finishers.get(scheme)
        stored: Write | None = None
        if answer is not None and answer.queued is not None:
            queued: list[Delivery] | None = answer.queued  # stored with the turn's answer
            stored = answer.extra
        else:
            replies = (
                finisher.replies(envelope, result)
                if finisher
                else _default_replies(envelope, result)
            )
            status = (
                ENVELOPE_CANCELLED if result.status == TurnStatus.INTERRUPTED else ENVELOPE_DONE
            )
            queued = await self._record_finish(envelope.id, status, replies)
        if queued is None:
            return
        self._events.publish(AGENTS, "turn.finished", _turn_finished(envelope, result))
        if finisher:
            try:
                await finisher.finished(envelope, result, queued, stored)
            except Exception:
                log.exception("recording the end of message %d failed", envelope.id)
        if queued and self._on_queued:
            self._on_queued(queued)
        waiter = self._waiters.get(envelope.id)
        if waiter and not waiter.done():
            waiter.set_result(result)

    async def _record_finish(
        self, envelope_id: int, status: str, replies: list[Delivery]
    ) -> list[Delivery] | None:
        """Finish the envelope and queue its replies; None if the store kept refusing."""
        # One transaction, so a failed attempt wrote nothing and trying again is safe; the
        # turn's work is done, so retry a busy database rather than leave it for a restart.
        for attempt in range(FINISH_ATTEMPTS):
            try:
                return await asyncio.shield(self._store.finish(envelope_id, status, replies))
            except Exception:
                if attempt + 1 == FINISH_ATTEMPTS:
                    log.exception(
                        "could not record the end of message %d; it runs again at the next start",
                        envelope_id,
                    )
                    return None
                log.warning("recording the end of message %d failed; retrying", envelope_id)
                await asyncio.sleep(0.2 * 2**attempt)
        return None


class _Answer:
    """An envelope's end, stored with its turn's final answer (``TurnOrigin.on_answer``):
    the envelope finished, its replies queued and what its finisher adds (``with_answer``)."""

    def __init__(self, store: BusStore, envelope: Envelope, finisher: Finisher | None) -> None:
        self._store = store
        self._envelope = envelope
        self._finisher = finisher
        self._finishing: Finishing | None = None
        self._extra: Write | None = None
        self.queued: list[Delivery] | None = None
        """The replies queued, once the answer's transaction committed."""
        self.extra: Write | None = None
        """The finisher's write, once committed with the answer."""

    def write(self, result: TurnResult) -> Write:
        envelope, finisher = self._envelope, self._finisher
        if finisher is None:
            replies = _default_replies(envelope, result)
            self._extra = None
        else:
            replies = finisher.replies(envelope, result)
            self._extra = finisher.with_answer(envelope, result)
        finishing = self._finishing = self._store.finishing(envelope.id, ENVELOPE_DONE, replies)
        extra = self._extra
        if extra is None:
            return finishing

        def both(connection: Connection) -> None:
            finishing(connection)
            if not finishing.finished_before:
                extra(connection)

        return both

    def stored(self) -> None:
        if self._finishing is not None:
            self.queued = self._finishing.queued()
            # Found finished already: nothing was written, the finisher's part neither.
            self.extra = None if self._finishing.finished_before else self._extra


def reply_meta(envelope: Envelope, result: TurnResult) -> dict[str, Any]:
    """What a reply carries besides its text: enough for a client to show and account it."""
    return {
        **_without_text(result),  # the delivery's body is the text
        "message_id": envelope.id,
        "depth": envelope.depth,
        **(
            {"reply_session": envelope.meta["reply_session"]}
            if "reply_session" in envelope.meta
            else {}
        ),
    }


def _default_replies(envelope: Envelope, result: TurnResult) -> list[Delivery]:
    if not envelope.reply_to:
        return []
    target = envelope.reply_to
    body = result.text
    session = envelope.meta.get("reply_session", "")
    if agent_name(target) is not None:
        body = f"[reply from agent {result.agent}] {result.text}"
    return [
        Delivery(
            target=target,
            sender=agent_address(result.agent),
            body=body,
            session=session,
            envelope_id=envelope.id,
            meta=reply_meta(envelope, result) | _forward_meta(envelope),
        )
    ]


def _forward_meta(envelope: Envelope) -> dict[str, Any]:
    # A reply into an agent's session answers whoever that session was answering.
    forward = envelope.meta.get("then_reply_to")
    return {"then_reply_to": forward} if forward else {}


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
    return {**_without_text(result), "message_id": envelope.id}


def _without_text(result: TurnResult) -> dict[str, Any]:
    data = result.as_dict()
    del data["text"]
    return data

"""The end of an envelope's turn, in one place: the envelope finished, its replies queued
and what its sender's ``Finisher`` records with them (the scheduler: the job run's end).

The router builds one ``EnvelopeEnd`` per envelope and hands it to the turn as
``TurnOrigin.on_answer`` (``agents.turn.AnswerHook``). The turn stores its final answer
together with ``write(result)``: the turn's end, its answer, the envelope's end, its
replies and the finisher's write commit in one transaction, so a crash cannot leave an
answer without its reply queued (and a turn's path has one transaction less). When there
is no such answer (an error, a cancelled turn, an unknown agent) or that transaction
failed (the turn then stores the answer alone), ``record`` writes the envelope's end
and replies by itself, retrying a busy database. Either way the router then tells the
finisher (``tell_finisher``), with its write if it was committed with the answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Connection

from roost.agents.turn import TurnResult
from roost.bus.envelope import (
    ENVELOPE_CANCELLED,
    ENVELOPE_DONE,
    Delivery,
    Envelope,
    agent_address,
    agent_name,
)
from roost.bus.store import BusStore, EnvelopeFinishWrite
from roost.store.conversations import WriteInTransaction
from roost.store.turn_status import TurnStatus
from roost.tools.untrusted import untrusted

log = logging.getLogger(__name__)

FINISH_ATTEMPTS = 5
"""Tries at recording an envelope's end by itself before leaving it to the next start."""

ExtraWrite = TypeVar("ExtraWrite", bound=Callable[[Connection], object])
"""A finisher's own write, stored with the answer (the scheduler's: ``RunEndWrite``)."""


class Finisher(Protocol[ExtraWrite]):
    """Decides what a finished turn sends, and records it (e.g. the scheduler's job runs),
    for the envelopes of one sender scheme (``Feature.finishers``)."""

    def replies(self, envelope: Envelope, result: TurnResult) -> list[Delivery]: ...

    def with_answer(self, envelope: Envelope, result: TurnResult) -> ExtraWrite | None:
        """More to store in the transaction of the turn's final answer and the envelope's
        end (e.g. the job run's end); None for nothing."""
        ...

    async def finished(
        self,
        envelope: Envelope,
        result: TurnResult,
        queued: list[Delivery],
        stored: ExtraWrite | None,
    ) -> None:
        """The envelope is finished; ``stored`` is what ``with_answer`` gave if it was
        committed with the answer (None if it was not, or not asked for)."""
        ...


class EnvelopeEnd(Generic[ExtraWrite]):
    """One envelope's end: stored with its turn's answer (``write``, ``stored``) or by
    itself (``record``), then told to its finisher (``tell_finisher``)."""

    def __init__(
        self, store: BusStore, envelope: Envelope, finisher: Finisher[ExtraWrite] | None
    ) -> None:
        self._store = store
        self._envelope = envelope
        self._finisher = finisher
        self._pending: tuple[EnvelopeFinishWrite, ExtraWrite | None] | None = None
        """What ``write`` gave the answer's transaction, until it committed."""
        self._queued: list[Delivery] | None = None
        """The replies queued, once stored (with the answer or by ``record``)."""
        self._committed_extra: ExtraWrite | None = None
        """The finisher's write, once committed with the answer."""

    # -- with the turn's answer (``agents.turn.AnswerHook``) ---------------------

    def write(self, result: TurnResult) -> WriteInTransaction:
        """The envelope's end, its replies and the finisher's write, to store with the
        turn's final answer."""
        envelope, finisher = self._envelope, self._finisher
        replies = self._replies(result)
        extra = finisher.with_answer(envelope, result) if finisher is not None else None
        finish = self._store.finish_write(envelope.id, ENVELOPE_DONE, replies)
        self._pending = (finish, extra)
        if extra is None:
            return finish

        def both(connection: Connection) -> None:
            finish(connection)
            if not finish.finished_before:
                extra(connection)

        return both

    def stored(self) -> None:
        """The answer's transaction committed."""
        if self._pending is None:
            return
        finish, extra = self._pending
        self._queued = finish.queued()
        # Found finished already: nothing was written, the finisher's part neither.
        self._committed_extra = None if finish.finished_before else extra

    # -- after the turn ------------------------------------------------------------

    async def record(self, result: TurnResult) -> list[Delivery] | None:
        """The replies queued: those stored with the answer, or else the envelope
        finished and its replies queued now; None if the store kept refusing (the
        envelope stays pending and runs again at the next start)."""
        if self._queued is not None:
            return self._queued
        status = ENVELOPE_CANCELLED if result.status == TurnStatus.INTERRUPTED else ENVELOPE_DONE
        self._queued = await self._finish_alone(status, self._replies(result))
        return self._queued

    async def tell_finisher(self, result: TurnResult, queued: list[Delivery]) -> None:
        """Let the sender's finisher record the end (its failure is logged, not raised)."""
        if self._finisher is None:
            return
        try:
            await self._finisher.finished(self._envelope, result, queued, self._committed_extra)
        except Exception:
            log.exception("recording the end of message %d failed", self._envelope.id)

    def _replies(self, result: TurnResult) -> list[Delivery]:
        if self._finisher is not None:
            return self._finisher.replies(self._envelope, result)
        return default_replies(self._envelope, result)

    async def _finish_alone(self, status: str, replies: list[Delivery]) -> list[Delivery] | None:
        # One transaction, so a failed attempt wrote nothing and trying again is safe; the
        # turn's work is done, so retry a busy database rather than leave it for a restart.
        envelope_id = self._envelope.id
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


def reply_meta(envelope: Envelope, result: TurnResult) -> dict[str, Any]:
    """What a reply carries besides its text: enough for a client to show and account it."""
    return {
        **without_text(result),  # the delivery's body is the text
        "message_id": envelope.id,
        "depth": envelope.depth,
        **(
            {"reply_session": envelope.meta["reply_session"]}
            if "reply_session" in envelope.meta
            else {}
        ),
    }


def default_replies(envelope: Envelope, result: TurnResult) -> list[Delivery]:
    """The replies of an envelope whose sender has no finisher: one to ``reply_to``."""
    if not envelope.reply_to:
        return []
    target = envelope.reply_to
    body = result.text
    session = envelope.meta.get("reply_session", "")
    if agent_name(target) is not None:
        body = untrusted(f"reply from agent {result.agent}", result.text)
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


def without_text(result: TurnResult) -> dict[str, Any]:
    data = result.as_dict()
    del data["text"]
    return data


def _forward_meta(envelope: Envelope) -> dict[str, Any]:
    # A reply into an agent's session answers whoever that session was answering.
    forward = envelope.meta.get("then_reply_to")
    return {"then_reply_to": forward} if forward else {}

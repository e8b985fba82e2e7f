"""The inbox and outbox tables: what was accepted, what is finished, what is still to send.

Finishing an envelope and queueing its reply happen in one transaction, so a crash
leaves either both or neither: never a finished turn whose reply was lost, never a
reply queued twice for one turn.

This module is the only one that writes the outbox (``deliveries``): a delivery queued
in another's transaction (the scheduler's alert, with the run's end) goes through
``queue_delivery``, so a row has one shape whoever queues it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from roost.bus.envelope import (
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    ENVELOPE_PENDING,
    Delivery,
    Envelope,
)
from roost.store.database import Database
from roost.store.tables import deliveries, envelopes, utcnow

_INSERT_ENVELOPE = insert(envelopes)
_FINISH_ENVELOPE = (
    update(envelopes)
    .where(envelopes.c.id == bindparam("envelope_id"), envelopes.c.status == ENVELOPE_PENDING)
    .values(status=bindparam("status"), finished_at=bindparam("now"))
)
_INSERT_DELIVERY = insert(deliveries)
_KEYS_PER_QUERY = 500
_DELIVERED = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("delivery_id"))
    .values(
        status=DELIVERY_DELIVERED,
        channel_ref=bindparam("ref"),
        delivered_at=bindparam("now"),
        next_attempt_at=None,
    )
)


class EnvelopeFinishWrite:
    """An envelope marked finished and its replies queued, as a write for a transaction
    (``BusStore.finish``'s own, or a turn's with its final answer: ``bus.envelope_end``)."""

    def __init__(self, envelope_id: int, status: str, replies: Sequence[Delivery]) -> None:
        self._replies = list(replies)
        self._params = {"envelope_id": envelope_id, "status": status, "now": utcnow()}
        self._rows = [_delivery_values(reply) for reply in self._replies]
        self._ids: list[int] = []
        self.finished_before = False
        """Whether the envelope was found finished already (nothing was written)."""

    def __call__(self, connection: Connection) -> None:
        self.finished_before = connection.execute(_FINISH_ENVELOPE, self._params).rowcount == 0
        if self.finished_before:
            self._ids = []  # its replies were queued when it was finished
            return
        self._ids = [_insert_delivery(connection, values) for values in self._rows]

    def queued(self) -> list[Delivery]:
        """The replies queued, with their ids (call once the transaction committed)."""
        if not self._ids:
            return []
        for reply, delivery_id in zip(self._replies, self._ids, strict=True):
            reply.id = delivery_id
        return self._replies


class AcceptedEnvelopes:
    """Envelopes stored in a transaction of their own or another's (the scheduler stores a
    batch of runs' envelopes with the runs): ``store(connection, batch)``.

    Deduplication is the same as ``BusStore.accept``: an envelope whose ``dedup_key`` is
    stored already (or earlier in the same batch) is not stored again; the stored one
    takes its place in ``accepted``, marked as a duplicate.
    """

    def __init__(self) -> None:
        self.accepted: list[tuple[Envelope, bool]] = []
        """``(envelope as stored, duplicate)`` in the order given, once stored."""

    def store(self, connection: Connection, batch: Sequence[Envelope]) -> None:
        self.accepted = []
        keys = [envelope.dedup_key for envelope in batch if envelope.dedup_key is not None]
        seen: dict[str, Envelope] = {}
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = keys[start : start + _KEYS_PER_QUERY]
            query = select(envelopes).where(envelopes.c.dedup_key.in_(chunk))
            for row in connection.execute(query).mappings():
                seen[row["dedup_key"]] = _envelope(row)
        for envelope in batch:
            earlier = seen.get(envelope.dedup_key) if envelope.dedup_key is not None else None
            if earlier is not None:
                self.accepted.append((earlier, True))
                continue
            values = _envelope_values(envelope)
            result = connection.execute(_INSERT_ENVELOPE, values)
            envelope.id = int(result.inserted_primary_key[0])  # type: ignore[index]
            if envelope.dedup_key is not None:
                seen[envelope.dedup_key] = envelope
            self.accepted.append((envelope, False))


class BusStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- inbox -----------------------------------------------------------------

    async def accept(self, envelope: Envelope) -> tuple[Envelope, bool]:
        """Store ``envelope``; returns it with its id, and whether it was a duplicate.

        An envelope whose ``dedup_key`` was seen before is not stored again: the
        earlier one is returned, so a channel that re-sends after a crash is harmless.
        """
        values = _envelope_values(envelope)

        def store(connection: Connection) -> int:
            result = connection.execute(_INSERT_ENVELOPE, values)
            return int(result.inserted_primary_key[0])  # type: ignore[index]

        try:
            envelope.id = await self._db.write(store, urgent=True)
            return envelope, False
        except IntegrityError:
            if envelope.dedup_key is None:
                raise
            existing = await self._envelope_where(envelopes.c.dedup_key == envelope.dedup_key)
            if existing is None:
                raise
            return existing, True

    async def accept_many(self, envelopes: Sequence[Envelope]) -> list[tuple[Envelope, bool]]:
        """``accept`` for several envelopes in one transaction: ``(envelope, duplicate)``."""
        accepted = AcceptedEnvelopes()
        await self._db.write(lambda connection: accepted.store(connection, envelopes), urgent=True)
        return accepted.accepted

    async def envelope(self, envelope_id: int) -> Envelope | None:
        return await self._envelope_where(envelopes.c.id == envelope_id)

    async def unfinished(self) -> list[Envelope]:
        """Envelopes accepted but not finished, oldest first: the work a crash left."""
        query = (
            select(envelopes).where(envelopes.c.status == ENVELOPE_PENDING).order_by(envelopes.c.id)
        )
        return [_envelope(row) for row in await self._rows(query)]

    async def finish(
        self, envelope_id: int, status: str, replies: Sequence[Delivery] = ()
    ) -> list[Delivery]:
        """Mark the envelope finished and queue its replies, atomically.

        An envelope is finished once: if it is finished already (its turn stored the
        end with its answer, see ``finish_write``, but did not learn that it committed: it
        was cancelled meanwhile), nothing is written, and what that finish queued and is
        still pending is returned, to be handed to the dispatcher (which drops any it is
        delivering or delivered already).
        """
        write = self.finish_write(envelope_id, status, replies)
        await self._db.write(write)
        if write.finished_before:
            found = await self.deliveries_for(envelope_id=envelope_id)
            return [delivery for delivery in found if delivery.status == DELIVERY_PENDING]
        return write.queued()

    def finish_write(
        self, envelope_id: int, status: str, replies: Sequence[Delivery] = ()
    ) -> EnvelopeFinishWrite:
        """``finish`` as a write for another transaction (a turn's, with its final answer)."""
        return EnvelopeFinishWrite(envelope_id, status, replies)

    async def _envelope_where(self, condition: Any) -> Envelope | None:
        rows = await self._rows(select(envelopes).where(condition))
        return _envelope(rows[0]) if rows else None

    async def queue_depths(self) -> tuple[int, int]:
        """(messages to agents not yet answered, deliveries not yet settled): `roost status`."""

        def read(connection: Connection) -> tuple[int, int]:
            waiting = select(func.count()).select_from(envelopes)
            unsent = select(func.count()).select_from(deliveries)
            return (
                connection.execute(
                    waiting.where(envelopes.c.status == ENVELOPE_PENDING)
                ).scalar_one(),
                connection.execute(
                    unsent.where(deliveries.c.status == DELIVERY_PENDING)
                ).scalar_one(),
            )

        return await self._db.snapshot(read)

    # -- outbox ----------------------------------------------------------------

    async def enqueue(self, delivery: Delivery) -> Delivery:
        return await self._db.write(lambda connection: queue_delivery(connection, delivery))

    async def pending(self, limit: int = 1000) -> list[Delivery]:
        """Deliveries not yet settled, oldest first."""
        query = (
            select(deliveries)
            .where(deliveries.c.status == DELIVERY_PENDING)
            .order_by(deliveries.c.id)
            .limit(limit)
        )
        return await self._deliveries(query)

    async def pending_for(self, target: str) -> list[Delivery]:
        query = (
            select(deliveries)
            .where(deliveries.c.target == target, deliveries.c.status == DELIVERY_PENDING)
            .order_by(deliveries.c.id)
        )
        return await self._deliveries(query)

    async def to_target(self, target: str) -> list[Delivery]:
        """Every delivery to ``target``, oldest first (for reports and tests)."""
        query = select(deliveries).where(deliveries.c.target == target).order_by(deliveries.c.id)
        return await self._deliveries(query)

    async def deliveries_for(
        self,
        *,
        envelope_id: int | None = None,
        job_run_ids: Iterable[int] = (),
        ids: Iterable[int] = (),
    ) -> list[Delivery]:
        """Deliveries answering an envelope, or of some job runs, or by their ids."""
        if envelope_id is not None:
            condition = deliveries.c.envelope_id == envelope_id
        elif ids:
            condition = deliveries.c.id.in_(list(ids))
        else:
            condition = deliveries.c.job_run_id.in_(list(job_run_ids))
        return await self._deliveries(select(deliveries).where(condition).order_by(deliveries.c.id))

    async def record_progress(
        self, delivery_id: int, meta: dict[str, Any], *, urgent: bool = False
    ) -> None:
        """Save how far a multi-part delivery got, so a retry does not resend parts.

        ``urgent``: ahead of the transactions waiting (a part just went out, and until
        this is stored a crash would send it again).
        """
        await self._update(delivery_id, urgent=urgent, meta=_dump(meta))

    async def delivered(self, delivery_id: int, channel_ref: str | None) -> None:
        await self.delivered_many([(delivery_id, channel_ref)])

    async def delivered_many(self, marks: Sequence[tuple[int, str | None]]) -> None:
        """``delivered`` for several (delivery id, channel ref) at once, in one transaction.

        Urgent: until it commits, a crash sends these replies again after the restart, so
        the mark goes before the turns' transactions waiting for the database (under load,
        dozens), not behind them.
        """
        now = utcnow()
        rows = [{"delivery_id": id_, "ref": ref, "now": now} for id_, ref in marks]
        if rows:
            await self._db.write(
                lambda connection: connection.execute(_DELIVERED, rows), urgent=True
            )

    async def postpone(
        self, delivery_id: int, error: str, retry_at: datetime, *, count_attempt: bool = True
    ) -> None:
        values: dict[str, Any] = {"last_error": error, "next_attempt_at": retry_at}
        if count_attempt:
            values["attempts"] = deliveries.c.attempts + 1
        await self._update(delivery_id, **values)

    async def failed(self, delivery_id: int, error: str) -> None:
        await self._update(
            delivery_id,
            status=DELIVERY_FAILED,
            last_error=error,
            attempts=deliveries.c.attempts + 1,
            next_attempt_at=None,
        )

    async def _update(self, delivery_id: int, *, urgent: bool = False, **values: Any) -> None:
        statement = update(deliveries).where(deliveries.c.id == delivery_id).values(**values)
        await self._db.write(lambda connection: connection.execute(statement), urgent=urgent)

    async def _deliveries(self, query: Any) -> list[Delivery]:
        return [_delivery(row) for row in await self._rows(query)]

    async def _rows(self, query: Any) -> Sequence[Any]:
        def read(connection: Connection) -> Sequence[Any]:
            return connection.execute(query).mappings().all()

        return await self._db.read(read)


def _envelope_values(envelope: Envelope) -> dict[str, Any]:
    envelope.created_at = envelope.created_at or utcnow()
    return {
        "created_at": envelope.created_at,
        "sender": envelope.sender,
        "recipient": envelope.recipient,
        "session": envelope.session,
        "body": envelope.body,
        "reply_to": envelope.reply_to,
        "depth": envelope.depth,
        "meta": _dump(envelope.meta),
        "dedup_key": envelope.dedup_key,
        "status": ENVELOPE_PENDING,
    }


def _delivery_values(delivery: Delivery) -> dict[str, Any]:
    delivery.created_at = delivery.created_at or utcnow()
    return {
        "created_at": delivery.created_at,
        "envelope_id": delivery.envelope_id,
        "job_run_id": delivery.job_run_id,
        "target": delivery.target,
        "sender": delivery.sender,
        "session": delivery.session,
        "body": delivery.body,
        "meta": _dump(delivery.meta),
        "status": DELIVERY_PENDING,
        "attempts": 0,
    }


def queue_delivery(connection: Connection, delivery: Delivery) -> Delivery:
    """Queue ``delivery`` in the caller's transaction; it is returned with its id (valid
    once the transaction commits). The scheduler queues a job's alert so, in the
    transaction that records the run's end."""
    delivery.id = _insert_delivery(connection, _delivery_values(delivery))
    return delivery


def _insert_delivery(connection: Connection, values: dict[str, Any]) -> int:
    result = connection.execute(_INSERT_DELIVERY, values)
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def _dump(meta: dict[str, Any]) -> str | None:
    return json.dumps(meta, ensure_ascii=False) if meta else None


def _envelope(row: Any) -> Envelope:
    return Envelope(
        sender=row["sender"],
        recipient=row["recipient"],
        session=row["session"],
        body=row["body"],
        reply_to=row["reply_to"],
        depth=row["depth"],
        meta=json.loads(row["meta"]) if row["meta"] else {},
        dedup_key=row["dedup_key"],
        id=row["id"],
        created_at=row["created_at"],
        status=row["status"],
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        target=row["target"],
        sender=row["sender"],
        body=row["body"],
        session=row["session"],
        envelope_id=row["envelope_id"],
        job_run_id=row["job_run_id"],
        meta=json.loads(row["meta"]) if row["meta"] else {},
        id=row["id"],
        status=row["status"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        channel_ref=row["channel_ref"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
    )

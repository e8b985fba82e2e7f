"""The outbox's delivery side: send what was stored, mark it sent, retry what failed.

A delivery is marked ``delivered`` only after its channel confirmed it (the
channel's ``deliver`` returned, with the channel's own id for it where there is
one). Each target has a lane: its deliveries go out one at a time, in order, and a
delivery that must be retried (or waits for an offline recipient) holds the ones
behind it, so a chat never sees replies out of order. Targets are served
concurrently. Fresh replies are handed over in memory (no database round trip on
the hot path); at start, everything the outbox still holds is queued again, so a
restart delivers what a crash left pending. Every attempt is recorded.

Every wait that is part of the outbox's behaviour (retry backoff, an offline
recipient's expiry, the rescan) is on the dispatcher's clock, so a test can drive it
with a ``ManualClock``; only the few milliseconds' batching of marks is not.
``pending``, ``stats`` and ``idle`` let a caller see when nothing is left to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from roost.bus.envelope import Delivery, split_address
from roost.bus.events import TRAFFIC, EventHub
from roost.bus.store import BusStore
from roost.supervise import supervise
from roost.timing.clock import Clock, SystemClock

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF_S = 300.0
OFFLINE_EXPIRY = timedelta(hours=24)
RESCAN_S = 60.0
REMEMBERED_SETTLED = 10_000
MARK_AFTER_S = 0.005
"""Deliveries are marked delivered in the outbox in batches, this long after the first
of a batch went out: the write then does not hold up the turn that follows a reply (the
database takes one transaction at a time), and one transaction marks many under load."""


class DeliveryError(Exception):
    """The channel could not deliver; ``permanent`` ones are not retried."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class RecipientOffline(DeliveryError):
    """Nobody is there to receive it yet (a WebSocket client that is not connected).

    The delivery waits, without counting attempts, until the recipient comes back
    (the channel calls ``Dispatcher.recipient_online``) or it expires.
    """


class Channel(Protocol):
    scheme: str

    async def deliver(self, delivery: Delivery) -> str | None:
        """Send it; return the channel's id for the sent message, or raise DeliveryError."""
        ...


@dataclass(frozen=True)
class DispatcherStats:
    """What the dispatcher holds in memory right now; all zero when it is idle."""

    lanes: int
    """Targets with a lane (deliveries queued or being attempted)."""
    in_flight: int
    """Deliveries queued on a lane or being attempted."""
    unmarked: int
    """Delivered, but not yet marked so in the outbox."""
    recipients_watched: int
    """Targets whose coming online is tracked (only those with a lane)."""
    reads: int
    """Outbox reads under way."""


class Dispatcher:
    def __init__(self, store: BusStore, events: EventHub, clock: Clock | None = None) -> None:
        self._store = store
        self._events = events
        self._clock: Clock = clock or SystemClock()
        """Times retries, offline expiry and rescans: a ``ManualClock`` lets a test step them."""
        self._channels: dict[str, Channel] = {}
        self._lanes: dict[str, asyncio.Queue[Delivery]] = {}
        self._lane_tasks: dict[str, asyncio.Task[None]] = {}
        self._in_flight: set[int] = set()
        self._attempting: set[str] = set()
        """Targets whose lane has a delivery out of its queue, being attempted."""
        self._online: dict[str, asyncio.Event] = {}
        self._online_count: dict[str, int] = {}
        """Per target with a lane, bumped by every ``recipient_online``: a lane that saw
        its recipient offline compares it before waiting, so a connection in between is
        never missed. Dropped with the lane: memory stays flat however many come."""
        self._settled: OrderedDict[int, None] = OrderedDict()
        """The most recently settled ids (bounded): a second push of one is ignored."""
        self._watches: list[set[int]] = []
        """Ids settled while an outbox read is under way, one set per read: what the read
        found pending may have been delivered meanwhile, and must not go out twice."""
        self._marks: dict[int, str | None] = {}
        """Delivered (id: channel ref), to be marked so in the outbox by ``_write_marks``."""
        self._marking: dict[int, str | None] = {}
        """Marks being written now."""
        self._mark_task: asyncio.Task[None] | None = None
        self._marks_due = asyncio.Event()
        """Set to write the marks at once (when stopping)."""
        self._started = False
        self._scanner: asyncio.Task[None] | None = None
        self._rescan = asyncio.Event()
        """Never set: the rescan waits out its period (the clock needs an event)."""
        self._idle = asyncio.Event()
        self._idle.set()
        """Set while nothing is in flight, unmarked or being read (see ``idle``)."""

    def register(self, channel: Channel) -> None:
        self._channels[channel.scheme] = channel

    def start(self) -> None:
        """Start delivering: first everything the outbox holds, then what is pushed.

        Called once the channels are registered (services started), so nothing
        stored meanwhile fails for want of its channel.
        """
        self._started = True
        self._scanner = asyncio.create_task(
            supervise("outbox", self._scan_forever), name="outbox-scan"
        )

    async def stop(self, grace_s: float = 0.0) -> None:
        """Let deliveries under way finish for ``grace_s``; the rest stay in the outbox."""
        if self._scanner is not None:
            self._scanner.cancel()
            await asyncio.gather(self._scanner, return_exceptions=True)
            self._scanner = None
        lanes = list(self._lane_tasks.values())
        if lanes and grace_s > 0:
            await asyncio.wait(lanes, timeout=grace_s)
        for task in lanes:
            task.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
        if self._mark_task is not None:  # not cancelled: a write under way must end first
            self._marks_due.set()
            await asyncio.gather(self._mark_task, return_exceptions=True)
            self._marks_due.clear()
        await self._flush_marks()
        self._maybe_idle()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def pending(self, target: str | None = None) -> int:
        """Deliveries queued or being attempted (for ``target``, or for all targets)."""
        if target is None:
            return len(self._in_flight)
        lane = self._lanes.get(target)
        if lane is None:
            return 0
        return lane.qsize() + (1 if target in self._attempting else 0)

    def stats(self) -> DispatcherStats:
        """What is held in memory now (for health pages and tests)."""
        return DispatcherStats(
            lanes=len(self._lanes),
            in_flight=len(self._in_flight),
            unmarked=len(self._marks) + len(self._marking),
            recipients_watched=len(self._online_count),
            reads=len(self._watches),
        )

    async def idle(self) -> None:
        """Return once nothing is in flight, left unmarked or being read from the outbox.

        The quiescent point a test drains to before asserting that nothing else went
        out. Deliveries waiting on a retry or an offline recipient are in flight: with a
        ``ManualClock``, advance it past their wait first.
        """
        while not self._idle.is_set():
            await self._idle.wait()

    def _busy(self) -> None:
        self._idle.clear()

    def _maybe_idle(self) -> None:
        held = self._in_flight or self._lanes or self._marks or self._marking or self._watches
        if not held and self._mark_task is None:
            self._idle.set()

    def push(self, deliveries: Iterable[Delivery]) -> None:
        """Queue stored deliveries on their targets' lanes (in the order given).

        Before ``start`` this does nothing: the scan at start picks them up.
        """
        if not self._started:
            return
        for delivery in deliveries:
            if delivery.id in self._in_flight or delivery.id in self._settled:
                continue
            self._in_flight.add(delivery.id)
            self._busy()
            lane = self._lanes.get(delivery.target)
            if lane is None:
                lane = self._lanes[delivery.target] = asyncio.Queue()
                self._lane_tasks[delivery.target] = asyncio.create_task(
                    self._serve_lane(delivery.target, lane), name=f"deliver:{delivery.target}"
                )
            lane.put_nowait(delivery)

    async def recipient_online(self, target: str) -> None:
        """A recipient came (back): what waits for it goes out now."""
        if target in self._lanes:
            self._online_count[target] = self._online_count.get(target, 0) + 1
        event = self._online.get(target)
        if event is not None:
            event.set()
        if target not in self._lanes:
            self.push(await self._read_outbox(self._store.pending_for(target)))

    async def _scan_forever(self) -> None:
        # At start this queues what a previous process left; later it is a safety net
        # for deliveries stored by other processes.
        while True:
            self.push(await self._read_outbox(self._store.pending()))
            await self._sleep(RESCAN_S, self._rescan)

    def _utcnow(self) -> datetime:
        """The clock's now as the outbox stores times: naive UTC."""
        return self._clock.now().astimezone(UTC).replace(tzinfo=None)

    async def _sleep(self, seconds: float, wake: asyncio.Event) -> None:
        """Wait ``seconds`` on the clock, or less if ``wake`` is set."""
        await self._clock.sleep_until(self._clock.now() + timedelta(seconds=seconds), wake)

    async def _read_outbox(self, read: Awaitable[list[Delivery]]) -> list[Delivery]:
        """What ``read`` found pending, less what was settled while it ran."""
        settled: set[int] = set()
        self._watches.append(settled)
        self._busy()
        try:
            found = await read
        finally:
            self._watches.remove(settled)
            self._maybe_idle()
        # Delivered but not marked yet, the outbox still has them as pending.
        unmarked = self._marks.keys() | self._marking.keys()
        return [d for d in found if d.id not in settled and d.id not in unmarked]

    async def _serve_lane(self, target: str, lane: asyncio.Queue[Delivery]) -> None:
        try:
            while not lane.empty():
                delivery = lane.get_nowait()
                self._attempting.add(target)
                try:
                    await self._deliver_until_settled(delivery)
                finally:
                    self._attempting.discard(target)
                    self._in_flight.discard(delivery.id)
                self._remember_settled(delivery.id)
        finally:
            self._lanes.pop(target, None)
            self._lane_tasks.pop(target, None)
            self._online_count.pop(target, None)
            while not lane.empty():
                self._in_flight.discard(lane.get_nowait().id)
            self._maybe_idle()

    async def _deliver_until_settled(self, delivery: Delivery) -> None:
        """Attempt, and wait and attempt again, until delivered or given up."""
        while True:
            seen_online = self._online_count.get(delivery.target, 0)
            wait = await self._attempt(delivery)
            if wait is None:
                return
            await self._wait(delivery.target, wait, seen_online)

    async def _wait(self, target: str, seconds: float, seen_online: int) -> None:
        """Wait ``seconds``, or less if the recipient comes online (or already came)."""
        if self._online_count.get(target, 0) != seen_online:
            return  # it connected while the attempt was failing: try again now
        event = self._online[target] = asyncio.Event()
        try:
            await self._sleep(seconds, event)
        finally:
            if self._online.get(target) is event:
                del self._online[target]

    def _remember_settled(self, delivery_id: int) -> None:
        self._settled[delivery_id] = None
        if len(self._settled) > REMEMBERED_SETTLED:
            self._settled.popitem(last=False)
        for settled in self._watches:
            settled.add(delivery_id)

    async def _attempt(self, delivery: Delivery) -> float | None:
        """Try once: None when settled (delivered or given up), else seconds to wait."""
        scheme, _ = split_address(delivery.target)
        channel = self._channels.get(scheme)
        if channel is None:
            await self._give_up(delivery, f"no channel handles '{scheme}:' addresses here")
            return None
        try:
            ref = await channel.deliver(delivery)
        except RecipientOffline as exc:
            return await self._wait_for_recipient(delivery, str(exc))
        except DeliveryError as exc:
            return await self._retry_or_give_up(delivery, str(exc), exc.permanent, exc.retry_after)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("delivery %d to %s failed unexpectedly", delivery.id, delivery.target)
            return await self._retry_or_give_up(
                delivery, f"{type(exc).__name__}: {exc}", False, None
            )
        self._mark_delivered(delivery.id, ref)
        self._publish(delivery, "delivered", channel_ref=ref)
        return None

    def _mark_delivered(self, delivery_id: int, ref: str | None) -> None:
        self._marks[delivery_id] = ref
        self._busy()
        if self._mark_task is None:
            self._mark_task = asyncio.create_task(self._write_marks(), name="outbox-marks")

    async def _write_marks(self) -> None:
        try:
            # On the loop's timer, not the clock: a write-coalescing delay that changes
            # nothing a caller can see but the row's status, which a test need not step.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._marks_due.wait(), MARK_AFTER_S)
            await self._flush_marks()
        finally:
            self._mark_task = None
            self._maybe_idle()

    async def _flush_marks(self) -> None:
        while self._marks:
            self._marking, self._marks = self._marks, {}
            try:
                await asyncio.shield(self._store.delivered_many(list(self._marking.items())))
            except Exception:
                # Left pending in the outbox: sent again after a restart, never lost.
                log.exception("could not mark %d deliveries as delivered", len(self._marking))
            finally:
                for settled in self._watches:  # a read under way may have seen them pending
                    settled.update(self._marking)
                self._marking = {}

    async def _wait_for_recipient(self, delivery: Delivery, reason: str) -> float | None:
        now = self._utcnow()
        expires = (delivery.created_at or now) + OFFLINE_EXPIRY
        remaining = (expires - now).total_seconds()
        if remaining <= 0:
            await self._give_up(delivery, f"{reason}; gave up after {OFFLINE_EXPIRY}")
            return None
        if delivery.last_error != reason:
            delivery.last_error = reason
            await self._store.postpone(delivery.id, reason, expires, count_attempt=False)
        return remaining

    async def _retry_or_give_up(
        self, delivery: Delivery, error: str, permanent: bool, retry_after: float | None
    ) -> float | None:
        delivery.attempts += 1
        if permanent or delivery.attempts >= MAX_ATTEMPTS:
            suffix = "" if permanent else f" (after {delivery.attempts} attempts)"
            await self._give_up(delivery, error + suffix)
            return None
        backoff = min(2.0**delivery.attempts, MAX_BACKOFF_S)
        delay = retry_after if retry_after is not None else backoff
        log.warning(
            "delivery %d to %s failed (%s); attempt %d again in %.1fs",
            delivery.id,
            delivery.target,
            error,
            delivery.attempts + 1,
            delay,
        )
        retry_at: datetime = self._utcnow() + timedelta(seconds=delay)
        await self._store.postpone(delivery.id, error, retry_at)
        self._publish(delivery, "retrying", error=error, attempt=delivery.attempts)
        return delay

    async def _give_up(self, delivery: Delivery, error: str) -> None:
        log.error("delivery %d to %s failed for good: %s", delivery.id, delivery.target, error)
        await self._store.failed(delivery.id, error)
        self._publish(delivery, "failed", error=error)

    def _publish(self, delivery: Delivery, status: str, **extra: object) -> None:
        if self._events.watched(TRAFFIC):
            self._events.publish(
                TRAFFIC,
                "delivery",
                {
                    "id": delivery.id,
                    "from": delivery.sender,
                    "to": delivery.target,
                    "status": status,
                    "message_id": delivery.envelope_id,
                    **extra,
                },
            )

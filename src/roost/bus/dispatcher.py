"""The outbox's delivery side: send what was stored, mark it sent, retry what failed.

A delivery is marked ``delivered`` only after its channel confirmed it (the
channel's ``deliver`` returned, with the channel's own id for it where there is
one). Deliveries to one target go out one at a time, in order; targets are served
concurrently. Fresh replies are handed over in memory (no database round trip on
the hot path); a scan of the outbox at start and at each due retry picks up the
rest, so a restart delivers what a crash left pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from roost.bus.envelope import Delivery, split_address
from roost.bus.events import TRAFFIC, EventHub
from roost.bus.store import BusStore
from roost.store.tables import utcnow
from roost.supervise import supervise

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF_S = 300.0
OFFLINE_EXPIRY = timedelta(hours=24)
IDLE_RESCAN_S = 60.0


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


class Dispatcher:
    def __init__(self, store: BusStore, events: EventHub) -> None:
        self._store = store
        self._events = events
        self._channels: dict[str, Channel] = {}
        self._lanes: dict[str, asyncio.Queue[Delivery]] = {}
        self._lane_tasks: dict[str, asyncio.Task[None]] = {}
        self._in_flight: set[int] = set()
        self._blocked: set[str] = set()
        """Targets with a postponed delivery: fresh ones queue behind it, in order."""
        self._rescan = asyncio.Event()
        self._scanner: asyncio.Task[None] | None = None

    def register(self, channel: Channel) -> None:
        self._channels[channel.scheme] = channel

    def start(self) -> None:
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

    @property
    def pending_in_memory(self) -> int:
        return len(self._in_flight)

    def push(self, deliveries: Iterable[Delivery], *, in_order: bool = False) -> None:
        """Deliver stored deliveries now.

        ``in_order`` says the caller checked that nothing older waits for the same
        target; otherwise a target with a postponed delivery is left to the scan.
        """
        for delivery in deliveries:
            if delivery.id in self._in_flight:
                continue
            if delivery.target in self._blocked and not in_order:
                continue
            self._in_flight.add(delivery.id)
            lane = self._lanes.get(delivery.target)
            if lane is None:
                lane = self._lanes[delivery.target] = asyncio.Queue()
                self._lane_tasks[delivery.target] = asyncio.create_task(
                    self._serve_lane(delivery.target, lane), name=f"deliver:{delivery.target}"
                )
            lane.put_nowait(delivery)

    async def recipient_online(self, target: str) -> None:
        """A recipient came (back): send what waits for it."""
        self._blocked.discard(target)
        self.push(await self._store.pending_for(target), in_order=True)

    def rescan(self) -> None:
        self._rescan.set()

    async def _scan_forever(self) -> None:
        while True:
            self._rescan.clear()
            now = utcnow()
            waiting = await self._store.first_waiting_per_target(now)
            self._blocked = set(waiting)
            self.push(
                (
                    delivery
                    for delivery in await self._store.due(now)
                    if delivery.id < waiting.get(delivery.target, delivery.id + 1)
                ),
                in_order=True,
            )
            await self._sleep_until_next_retry()

    async def _sleep_until_next_retry(self) -> None:
        next_at = await self._store.next_attempt_at()
        delay = IDLE_RESCAN_S
        if next_at is not None:
            delay = min(delay, max(0.05, (next_at - utcnow()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._rescan.wait(), delay)

    async def _serve_lane(self, target: str, lane: asyncio.Queue[Delivery]) -> None:
        try:
            while not lane.empty():
                delivery = lane.get_nowait()
                try:
                    sent = await self._attempt(delivery)
                finally:
                    self._in_flight.discard(delivery.id)
                if not sent:
                    break  # the rest waits behind it, in order (the scan brings it back)
        finally:
            self._lanes.pop(target, None)
            self._lane_tasks.pop(target, None)
            while not lane.empty():
                self._in_flight.discard(lane.get_nowait().id)

    async def _attempt(self, delivery: Delivery) -> bool:
        """Try once; False when it must wait (later ones to the same target wait too)."""
        scheme, _ = split_address(delivery.target)
        channel = self._channels.get(scheme)
        if channel is None:
            await self._give_up(delivery, f"no channel handles '{scheme}:' addresses here")
            return True
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
        await asyncio.shield(self._store.delivered(delivery.id, ref))
        self._publish(delivery, "delivered", channel_ref=ref)
        return True

    async def _wait_for_recipient(self, delivery: Delivery, reason: str) -> bool:
        created = delivery.created_at or utcnow()
        if utcnow() - created > OFFLINE_EXPIRY:
            await self._give_up(delivery, f"{reason}; gave up after {OFFLINE_EXPIRY}")
            return True
        self._blocked.add(delivery.target)
        await self._store.postpone(
            delivery.id, reason, created + OFFLINE_EXPIRY, count_attempt=False
        )
        return False

    async def _retry_or_give_up(
        self, delivery: Delivery, error: str, permanent: bool, retry_after: float | None
    ) -> bool:
        attempts = delivery.attempts + 1
        if permanent or attempts >= MAX_ATTEMPTS:
            suffix = "" if permanent else f" (after {attempts} attempts)"
            await self._give_up(delivery, error + suffix)
            return True
        delay = retry_after if retry_after is not None else min(2.0**attempts, MAX_BACKOFF_S)
        retry_at: datetime = utcnow() + timedelta(seconds=delay)
        log.warning(
            "delivery %d to %s failed (%s); retry %d in %.0fs",
            delivery.id,
            delivery.target,
            error,
            attempts,
            delay,
        )
        self._blocked.add(delivery.target)
        await self._store.postpone(delivery.id, error, retry_at)
        self._publish(delivery, "retrying", error=error, attempt=attempts)
        self.rescan()
        return False

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

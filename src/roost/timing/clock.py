"""Time as the scheduler sees it: the real clock, and a hand-driven one for tests.

A sleeper waits until a UTC deadline *or* until a ``wake`` event is set; the
scheduler sets ``wake`` when jobs change so it can re-plan at once. Neither
clock clears ``wake``: that is the caller's decision.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


class Clock(Protocol):
    """Where "now" comes from and how to wait for a moment."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    async def sleep_until(self, t: datetime, wake: asyncio.Event) -> None:
        """Return at ``t`` or as soon as ``wake`` is set, whichever comes first."""
        ...


def _require_aware(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {t.isoformat()}")
    return t.astimezone(UTC)


class SystemClock:
    """The wall clock, waited on with the event loop's timer.

    The loop's timer runs on a monotonic clock, which stands still while the
    machine is suspended and ignores wall-clock corrections. Waiting in naps of
    at most ``max_nap_s`` and re-reading the wall clock after each bounds how late
    a fire can be after a resume or an NTP step; between naps nothing runs.
    """

    def __init__(self, max_nap_s: float = 60.0) -> None:
        if max_nap_s <= 0:
            raise ValueError("max_nap_s must be positive")
        self._max_nap_s = max_nap_s

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, t: datetime, wake: asyncio.Event) -> None:
        deadline = _require_aware(t)
        while not wake.is_set():
            remaining = (deadline - self.now()).total_seconds()
            if remaining <= 0:
                return
            try:
                async with asyncio.timeout(min(remaining, self._max_nap_s)):
                    await wake.wait()
            except TimeoutError:
                continue


class ManualClock:
    """A clock that only moves when told to, for fast, deterministic tests.

    ``advance``/``set`` resolve the sleepers whose deadline has been reached; the
    woken coroutines resume at the event loop's next turns (``await
    asyncio.sleep(0)``). Call them from the event loop's thread.
    """

    def __init__(self, start: datetime) -> None:
        self._now = _require_aware(start)
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    @property
    def sleepers(self) -> int:
        """How many coroutines are waiting in ``sleep_until`` right now."""
        return len(self._sleepers)

    def next_deadline(self) -> datetime | None:
        """The earliest deadline anyone is sleeping towards, if any."""
        return min((deadline for deadline, _ in self._sleepers), default=None)

    def set(self, t: datetime) -> None:
        """Jump to ``t`` and wake the sleepers now due.

        Going back is allowed, to imitate a wall-clock correction; it wakes nobody.
        """
        target = _require_aware(t)
        self._now = target
        for deadline, future in self._sleepers:
            if deadline <= target and not future.done():
                future.set_result(None)

    def advance(self, delta: timedelta) -> None:
        """Move forward by ``delta`` and wake the sleepers now due."""
        self.set(self._now + delta)

    async def sleep_until(self, t: datetime, wake: asyncio.Event) -> None:
        deadline = _require_aware(t)
        if deadline <= self._now or wake.is_set():
            return
        due: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (deadline, due)
        self._sleepers.append(entry)
        woken: asyncio.Future[Any] = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait([due, woken], return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            due.cancel()
            self._sleepers.remove(entry)

    async def wait_for_sleepers(self, count: int = 1, max_turns: int = 10_000) -> None:
        """Yield to the loop until ``count`` coroutines are sleeping on this clock.

        Lets a test advance time only once the code under test is really waiting.
        """
        for _ in range(max_turns):
            if len(self._sleepers) >= count:
                return
            await asyncio.sleep(0)
        raise TimeoutError(f"{len(self._sleepers)} of {count} sleepers after {max_turns} turns")

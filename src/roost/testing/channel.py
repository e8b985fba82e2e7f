"""A delivery channel for tests: it records what it was asked to deliver."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from roost.bus.envelope import Delivery


class RecordingChannel:
    """Delivers to a list (``delivered``); can be told to fail or hold the next attempts.

    Register it with the dispatcher for its ``scheme`` (``test`` unless given), then wait
    on what it was asked to do instead of sleeping::

        channel = RecordingChannel()
        app.dispatcher.register(channel)
        channel.fail_next(DeliveryError("503", retry_after=1.0))
        ...
        [reply] = await channel.wait_for(1)  # the retry went through

        channel.hold()                       # attempts now wait, under way
        ...
        await channel.wait_under_way(1)
        channel.release()
        await channel.idle()                 # no attempt is under way

    Every attempt counts in ``attempts``; a failure raised instead of delivering is
    taken from the front of ``failures`` (filled by ``fail_next``). Each delivery is
    confirmed with the channel reference ``ref-<delivery id>``.
    """

    def __init__(self, scheme: str = "test") -> None:
        self.scheme = scheme
        self.delivered: list[Delivery] = []
        self.failures: list[Exception] = []
        self.attempts = 0
        self.under_way = 0
        """Attempts started and not yet returned (held ones among them)."""
        self._open = asyncio.Event()
        self._open.set()
        self._changed = asyncio.Condition()

    async def deliver(self, delivery: Delivery) -> str | None:
        self.attempts += 1
        self.under_way += 1
        try:
            await self._notify()
            await self._open.wait()
            if self.failures:
                raise self.failures.pop(0)
            self.delivered.append(delivery)
            return f"ref-{delivery.id}"
        finally:
            self.under_way -= 1
            await self._notify()

    def fail_next(self, *errors: Exception) -> None:
        """Raise these, in order, from the next attempts instead of delivering."""
        self.failures.extend(errors)

    def hold(self) -> None:
        """Make attempts wait, under way, until ``release``."""
        self._open.clear()

    def release(self) -> None:
        """Let held attempts (and later ones) go on."""
        self._open.set()

    async def wait_for(self, count: int, within: float = 10.0) -> list[Delivery]:
        """Wait until ``count`` deliveries were made; return all made so far.

        Raises ``TimeoutError`` after ``within`` seconds.
        """
        await self._until(lambda: len(self.delivered) >= count, within)
        return list(self.delivered)

    async def wait_under_way(self, count: int = 1, within: float = 10.0) -> None:
        """Wait until ``count`` attempts are under way (held ones, say)."""
        await self._until(lambda: self.under_way >= count, within)

    async def idle(self, within: float = 10.0) -> None:
        """Wait until no attempt is under way."""
        await self._until(lambda: self.under_way == 0, within)

    async def _until(self, check: Callable[[], bool], within: float) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(check)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

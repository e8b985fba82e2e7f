"""A serving App (inbox, outbox and dispatcher running) and a channel that records."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from roost.app import App
from roost.bus.dispatcher import DeliveryError, RecipientOffline
from roost.bus.envelope import Delivery
from roost.config.settings import Settings


class RecordingChannel:
    """Delivers to a list; can be told to fail the next attempts."""

    scheme = "test"

    def __init__(self) -> None:
        self.delivered: list[Delivery] = []
        self.failures: list[Exception] = []
        self.attempts = 0
        self._changed = asyncio.Event()

    async def deliver(self, delivery: Delivery) -> str | None:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        self.delivered.append(delivery)
        self._changed.set()
        return f"ref-{delivery.id}"

    async def wait_for(self, count: int, within: float = 10.0) -> list[Delivery]:
        async with asyncio.timeout(within):
            while len(self.delivered) < count:
                self._changed.clear()
                await self._changed.wait()
        return list(self.delivered)

    def fail_next(self, *errors: Exception) -> None:
        self.failures.extend(errors)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll ``check`` until it holds; for state that lives in the database."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.01)


__all__ = ["DeliveryError", "RecipientOffline", "RecordingChannel", "eventually"]


@pytest.fixture
def channel() -> RecordingChannel:
    return RecordingChannel()


@pytest.fixture
async def serving_app(settings: Settings, channel: RecordingChannel) -> AsyncIterator[App]:
    application = App(settings)
    application.dispatcher.register(channel)
    await application.start(recover=True)
    yield application
    await application.stop(grace_s=1)

"""A serving App (inbox, outbox and dispatcher running) and a channel that records."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest

from roost.app import App
from roost.bus.dispatcher import DeliveryError, RecipientOffline
from roost.config.settings import Settings
from roost.testing import ManualClock, RecordingChannel


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


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


@pytest.fixture
async def clocked_app(
    settings: Settings, channel: RecordingChannel, clock: ManualClock
) -> AsyncIterator[App]:
    """A serving App whose outbox waits (retries, batching, rescans) on ``clock``."""
    application = App(settings, clock=clock)
    application.dispatcher.register(channel)
    await application.start(recover=True)
    yield application
    await application.stop(grace_s=1)

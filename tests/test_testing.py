"""roost.testing's seams: a recording channel behind a real dispatcher, and settled()."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from roost.app import App
from roost.bus.dispatcher import DeliveryError
from roost.bus.envelope import Delivery
from roost.config.settings import Settings
from roost.testing import RecordingChannel, settled


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[App]:
    application = App(settings)
    await application.start(recover=True)
    yield application
    await application.stop(grace_s=0)


async def _queue(app: App, body: str, target: str) -> Delivery:
    delivery = await app.bus.enqueue(Delivery(target=target, sender="agent:a", body=body))
    app.dispatcher.push([delivery])
    return delivery


async def test_a_recording_channel_records_fails_on_request_and_holds(app: App) -> None:
    channel = RecordingChannel("rec")
    app.dispatcher.register(channel)
    channel.fail_next(DeliveryError("no", permanent=True))
    refused = await _queue(app, "refused", "rec:x")
    await settled(app)
    [row] = await app.bus.to_target("rec:x")
    assert (row.id, row.status, row.last_error) == (refused.id, "failed", "no")
    channel.hold()
    held = await _queue(app, "held", "rec:y")
    await channel.wait_under_way(1)
    assert channel.delivered == [] and app.dispatcher.pending("rec:y") == 1
    channel.release()
    [delivered] = await channel.wait_for(1)
    await channel.idle()
    await settled(app)
    assert delivered.id == held.id and channel.attempts == 2
    [row] = await app.bus.to_target("rec:y")
    assert (row.status, row.channel_ref) == ("delivered", f"ref-{held.id}")
    with pytest.raises(TimeoutError):
        await channel.wait_for(2, within=0.01)


async def test_settled_waits_for_a_delivery_in_flight(app: App) -> None:
    channel = RecordingChannel()
    app.dispatcher.register(channel)
    channel.hold()
    await _queue(app, "slow", "test:z")
    waiting = asyncio.create_task(settled(app))
    await channel.wait_under_way(1)
    assert not waiting.done()
    channel.release()
    await asyncio.wait_for(waiting, 10)
    assert [d.body for d in channel.delivered] == ["slow"]

"""The outbox: delivered only when the channel confirmed, retried in order, held for
recipients that are offline, given up with the reason."""

from __future__ import annotations

import asyncio

from roost.app import App
from roost.bus.dispatcher import DeliveryError, RecipientOffline
from roost.bus.envelope import Delivery
from tests.bus.conftest import RecordingChannel


async def _queue(app: App, body: str, target: str = "test:bob") -> Delivery:
    delivery = await app.bus.enqueue(Delivery(target=target, sender="agent:assistant", body=body))
    app.dispatcher.push([delivery])
    return delivery


async def _status(app: App, delivery: Delivery, wanted: str) -> Delivery:
    async with asyncio.timeout(10):
        while True:
            [row] = [d for d in await app.bus.to_target(delivery.target) if d.id == delivery.id]
            if row.status == wanted:
                return row
            await asyncio.sleep(0.01)


async def test_a_failed_attempt_is_retried_and_later_messages_wait_behind_it(
    serving_app: App, channel: RecordingChannel
) -> None:
    channel.fail_next(DeliveryError("503 from the channel", retry_after=0.05))
    first = await _queue(serving_app, "first")
    second = await _queue(serving_app, "second")
    delivered = await channel.wait_for(2)
    assert [d.body for d in delivered] == ["first", "second"]
    row = await _status(serving_app, first, "delivered")
    assert row.attempts == 1 and row.last_error == "503 from the channel"
    await _status(serving_app, second, "delivered")


async def test_a_permanent_error_fails_the_delivery_with_its_reason(
    serving_app: App, channel: RecordingChannel
) -> None:
    channel.fail_next(DeliveryError("chat not found", permanent=True))
    doomed = await _queue(serving_app, "to nowhere")
    row = await _status(serving_app, doomed, "failed")
    assert row.last_error == "chat not found" and channel.delivered == []


async def test_an_unknown_scheme_fails_at_once_naming_it(serving_app: App) -> None:
    doomed = await _queue(serving_app, "hello", target="pager:42")
    row = await _status(serving_app, doomed, "failed")
    assert "no channel handles 'pager:'" in (row.last_error or "")


async def test_a_delivery_waits_for_an_offline_recipient_without_using_up_attempts(
    serving_app: App, channel: RecordingChannel
) -> None:
    channel.fail_next(RecipientOffline("bob is not connected"))
    waiting = await _queue(serving_app, "for later")
    row = await _status(serving_app, waiting, "pending")
    async with asyncio.timeout(5):
        while row.last_error is None:
            row = await _status(serving_app, waiting, "pending")
    assert row.attempts == 0 and channel.delivered == []
    newer = await _queue(serving_app, "newer")  # must not overtake the waiting one
    await asyncio.sleep(0.1)
    assert channel.delivered == []
    await serving_app.dispatcher.recipient_online("test:bob")
    delivered = await channel.wait_for(2)
    assert [d.body for d in delivered] == ["for later", "newer"]
    await _status(serving_app, newer, "delivered")


async def test_recipients_coming_and_going_leave_nothing_behind(
    serving_app: App, channel: RecordingChannel
) -> None:
    dispatcher = serving_app.dispatcher
    for client in range(50):
        await dispatcher.recipient_online(f"test:visitor-{client}")
    delivery = await _queue(serving_app, "hello", target="test:visitor-7")
    await _status(serving_app, delivery, "delivered")
    await asyncio.gather(*dispatcher._lane_tasks.values())
    assert dispatcher._lanes == {} and dispatcher._online_count == {}
    assert dispatcher._watches == []


async def test_an_outbox_read_racing_a_delivery_does_not_send_it_twice(
    serving_app: App, channel: RecordingChannel
) -> None:
    dispatcher = serving_app.dispatcher
    delivery = await serving_app.bus.enqueue(
        Delivery(target="test:bob", sender="agent:assistant", body="once")
    )
    read_done = asyncio.Event()

    async def slow_read() -> list[Delivery]:
        found = await serving_app.bus.pending_for("test:bob")  # still pending here
        await read_done.wait()
        return found

    reading = asyncio.create_task(dispatcher._read_outbox(slow_read()))
    await asyncio.sleep(0.05)
    dispatcher.push([delivery])
    await channel.wait_for(1)
    await _status(serving_app, delivery, "delivered")
    await asyncio.sleep(0.05)  # the lane settles it
    read_done.set()
    dispatcher.push(await reading)
    await asyncio.sleep(0.1)
    assert [d.body for d in channel.delivered] == ["once"]


async def test_deliveries_are_marked_in_batches_and_none_is_left_unmarked_at_stop(
    serving_app: App, channel: RecordingChannel
) -> None:
    queued = [await _queue(serving_app, f"part {i}") for i in range(3)]
    await channel.wait_for(3)
    await serving_app.dispatcher.stop()  # before the batch's delay is over
    rows = await serving_app.bus.to_target("test:bob")
    assert [(row.id, row.status) for row in rows] == [(d.id, "delivered") for d in queued]
    assert [row.channel_ref for row in rows] == [f"ref-{d.id}" for d in queued]

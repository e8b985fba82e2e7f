"""The outbox: delivered only when the channel confirmed, retried in order, held for
recipients that are offline, given up with the reason."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from roost.app import App
from roost.bus.dispatcher import DeliveryError, DispatcherStats, RecipientOffline
from roost.bus.envelope import Delivery
from roost.testing import ManualClock, RecordingChannel

NOTHING_HELD = DispatcherStats(lanes=0, in_flight=0, unmarked=0, recipients_watched=0, reads=0)


async def _queue(app: App, body: str, target: str = "test:bob") -> Delivery:
    delivery = await app.bus.enqueue(Delivery(target=target, sender="agent:assistant", body=body))
    app.dispatcher.push([delivery])
    return delivery


async def _status(
    app: App,
    delivery: Delivery,
    wanted: str,
    *,
    error: str | None = None,
    attempts: int | None = None,
) -> Delivery:
    """Poll the outbox row until it has ``wanted`` status (and ``error``/``attempts``)."""
    async with asyncio.timeout(10):
        while True:
            [row] = [d for d in await app.bus.to_target(delivery.target) if d.id == delivery.id]
            if (
                row.status == wanted
                and error in (None, row.last_error)
                and attempts in (None, row.attempts)
            ):
                return row
            await asyncio.sleep(0.01)


async def test_a_failed_attempt_is_retried_and_later_messages_wait_behind_it(
    clocked_app: App, channel: RecordingChannel, clock: ManualClock
) -> None:
    channel.fail_next(DeliveryError("503 from the channel", retry_after=30))
    first = await _queue(clocked_app, "first")
    second = await _queue(clocked_app, "second")
    await _status(clocked_app, first, "pending", error="503 from the channel")
    await clock.wait_for_sleepers(2)  # the rescan, and the lane waiting out the retry
    assert channel.delivered == [] and clocked_app.dispatcher.pending("test:bob") == 2
    clock.advance(timedelta(seconds=29))
    assert channel.delivered == [] and clocked_app.dispatcher.pending("test:bob") == 2
    clock.advance(timedelta(seconds=1))
    delivered = await channel.wait_for(2)
    assert [d.body for d in delivered] == ["first", "second"] and channel.attempts == 3
    await clocked_app.dispatcher.idle()
    [row, later] = await clocked_app.bus.to_target("test:bob")
    assert (row.id, row.status, row.attempts) == (first.id, "delivered", 1)
    assert row.last_error == "503 from the channel"
    assert (later.id, later.status) == (second.id, "delivered")


async def test_each_failure_waits_twice_as_long_as_the_one_before(
    clocked_app: App, channel: RecordingChannel, clock: ManualClock
) -> None:
    channel.fail_next(DeliveryError("timeout"), DeliveryError("timeout"))
    delivery = await _queue(clocked_app, "patience")
    for attempt, backoff in ((1, 2.0), (2, 4.0)):
        await _status(clocked_app, delivery, "pending", attempts=attempt)
        await clock.wait_for_sleepers(2)  # the rescan, and the lane
        clock.advance(timedelta(seconds=backoff - 0.5))
        assert channel.attempts == attempt
        clock.advance(timedelta(seconds=0.5))
    await channel.wait_for(1)
    assert channel.attempts == 3


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
    row = await _status(serving_app, waiting, "pending", error="bob is not connected")
    assert row.attempts == 0 and channel.delivered == []
    newer = await _queue(serving_app, "newer")  # must not overtake the waiting one
    # Held on the lane behind the waiting one, not attempted:
    assert serving_app.dispatcher.pending("test:bob") == 2 and channel.attempts == 1
    await serving_app.dispatcher.recipient_online("test:bob")
    delivered = await channel.wait_for(2)
    assert [d.body for d in delivered] == ["for later", "newer"]
    await serving_app.dispatcher.idle()
    await _status(serving_app, newer, "delivered")


async def test_an_offline_recipient_who_never_comes_back_fails_the_delivery_after_a_day(
    clocked_app: App, channel: RecordingChannel, clock: ManualClock
) -> None:
    channel.fail_next(RecipientOffline("bob is not connected"))
    waiting = await _queue(clocked_app, "for later")
    await _status(clocked_app, waiting, "pending", error="bob is not connected")
    await clock.wait_for_sleepers(2)  # the rescan, and the lane waiting for bob
    channel.fail_next(RecipientOffline("bob is not connected"))
    clock.advance(timedelta(hours=24, minutes=1))  # the clock started before it was queued
    row = await _status(clocked_app, waiting, "failed")
    assert "gave up after 1 day" in (row.last_error or "") and channel.delivered == []


async def test_recipients_coming_and_going_leave_nothing_behind(
    serving_app: App, channel: RecordingChannel
) -> None:
    dispatcher = serving_app.dispatcher
    for client in range(50):
        await dispatcher.recipient_online(f"test:visitor-{client}")
    delivery = await _queue(serving_app, "hello", target="test:visitor-7")
    await dispatcher.idle()
    await _status(serving_app, delivery, "delivered")
    assert dispatcher.stats() == NOTHING_HELD


async def test_an_outbox_read_racing_a_delivery_does_not_send_it_twice(
    serving_app: App, channel: RecordingChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    dispatcher = serving_app.dispatcher
    delivery = await serving_app.bus.enqueue(
        Delivery(target="test:bob", sender="agent:assistant", body="once")
    )
    read_found, read_done = asyncio.Event(), asyncio.Event()
    pending_for = serving_app.bus.pending_for

    async def slow_read(target: str) -> list[Delivery]:
        found = await pending_for(target)  # still pending here
        read_found.set()
        await read_done.wait()
        return found

    monkeypatch.setattr(serving_app.bus, "pending_for", slow_read)
    # Bob connecting reads what waits for him from the outbox, slowly.
    reading = asyncio.create_task(dispatcher.recipient_online("test:bob"))
    async with asyncio.timeout(10):
        await read_found.wait()
    dispatcher.push([delivery])
    await channel.wait_for(1)
    await _status(serving_app, delivery, "delivered")
    assert dispatcher.stats().reads == 1
    read_done.set()
    await reading  # pushes what the read found
    await dispatcher.idle()
    assert [d.body for d in channel.delivered] == ["once"] and channel.attempts == 1


async def test_deliveries_are_marked_in_batches_and_none_is_left_unmarked_at_stop(
    serving_app: App, channel: RecordingChannel
) -> None:
    queued = [await _queue(serving_app, f"part {i}") for i in range(3)]
    await channel.wait_for(3)
    await serving_app.dispatcher.stop()  # before the batch's delay is over
    rows = await serving_app.bus.to_target("test:bob")
    assert [(row.id, row.status) for row in rows] == [(d.id, "delivered") for d in queued]
    assert [row.channel_ref for row in rows] == [f"ref-{d.id}" for d in queued]

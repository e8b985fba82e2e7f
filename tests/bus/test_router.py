"""The inbox and the router: stored before acknowledged, finished with its reply, run
again after a crash without storing the message twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from roost.agents.turn import TurnResult
from roost.app import App
from roost.bus.envelope import Delivery, Envelope
from roost.bus.envelope_end import Finisher, default_replies
from roost.config.settings import Settings
from roost.features import Feature
from roost.ports import CorePorts
from roost.store.tables import deliveries, envelopes, messages
from roost.testing import RecordingChannel, settled
from tests.bus.conftest import eventually
from tests.fakes.llm_server import FakeLLM


def _to_assistant(body: str, *, session: str = "s", dedup: str | None = None) -> Envelope:
    return Envelope(
        sender="test:alice",
        recipient="agent:assistant",
        session=session,
        body=body,
        reply_to="test:alice",
        dedup_key=dedup,
    )


async def _envelope_status(app: App, envelope_id: int) -> str:
    async with app.db.engine.connect() as connection:
        query = select(envelopes.c.status).where(envelopes.c.id == envelope_id)
        return str((await connection.execute(query)).scalar_one())


async def test_a_message_is_stored_run_and_its_reply_delivered_through_the_outbox(
    serving_app: App, channel: RecordingChannel, fake_llm: FakeLLM
) -> None:
    fake_llm.reply("hello Alice", usage=None)
    stored = await serving_app.router.submit(_to_assistant("hi"))
    assert stored.id > 0  # the id is the acknowledgement: the row exists already
    [reply] = await channel.wait_for(1)
    assert reply.body == "hello Alice" and reply.target == "test:alice"
    assert reply.meta["status"] == "ok" and reply.meta["message_id"] == stored.id
    assert reply.meta["output_tokens"] > 0 and reply.meta["cost_usd"] > 0
    assert await _envelope_status(serving_app, stored.id) == "done"

    async def delivered() -> bool:
        [row] = await serving_app.bus.deliveries_for(envelope_id=stored.id)
        return row.status == "delivered"

    await eventually(delivered)
    [row] = await serving_app.bus.deliveries_for(envelope_id=stored.id)
    assert row.channel_ref == f"ref-{reply.id}"


async def test_a_duplicate_is_acknowledged_but_not_run_twice(
    serving_app: App, channel: RecordingChannel, fake_llm: FakeLLM
) -> None:
    first = await serving_app.router.submit(_to_assistant("once", dedup="update-7"))
    again = await serving_app.router.submit(_to_assistant("once", dedup="update-7"))
    assert again.id == first.id
    await channel.wait_for(1)
    await settled(serving_app)
    assert len(fake_llm.requests) == 1 and len(channel.delivered) == 1


async def test_a_message_to_an_unknown_agent_gets_an_error_reply(
    serving_app: App, channel: RecordingChannel
) -> None:
    envelope = _to_assistant("hello?")
    envelope.recipient = "agent:nobody"
    await serving_app.router.submit(envelope)
    [reply] = await channel.wait_for(1)
    assert reply.meta["status"] == "unknown_agent"
    assert "unknown agent 'nobody'" in reply.body and "assistant" in reply.body


async def test_ask_waits_for_the_answer(serving_app: App, fake_llm: FakeLLM) -> None:
    envelope = _to_assistant("question")
    envelope.reply_to = None
    result = await serving_app.router.ask(envelope, timeout_s=10)
    assert result.ok and result.text == "echo: question"


async def test_a_turn_cut_short_by_a_stop_runs_again_at_the_next_start_without_duplicates(
    settings: Settings, fake_llm: FakeLLM
) -> None:
    first = App(settings)
    await first.start(recover=True)
    fake_llm.delay(30)
    stored = await first.router.submit(_to_assistant("slow question", session="crash"))
    await asyncio.to_thread(fake_llm.wait_for_requests, 1)
    await first.stop(grace_s=0)  # like a crash: the turn never finished
    assert await _status_in_new_app(settings, stored.id) == "pending"

    fake_llm.reset()
    fake_llm.reply("the answer, at last")
    second = App(settings)
    channel = RecordingChannel()
    second.dispatcher.register(channel)
    await second.start(recover=True)
    try:
        [reply] = await channel.wait_for(1)
        assert reply.body == "the answer, at last" and reply.meta["message_id"] == stored.id
        session_id = await second.conversations.session_id("assistant", "crash")
        history = await second.conversations.history(session_id)
        assert [m.text for m in history if m.role == "user"] == ["slow question"]
        assert await _envelope_status(second, stored.id) == "done"
    finally:
        await second.stop(grace_s=1)


async def test_an_answer_stored_before_a_crash_is_delivered_without_a_new_model_call(
    settings: Settings, fake_llm: FakeLLM
) -> None:
    first = App(settings)
    channel = RecordingChannel()
    first.dispatcher.register(channel)
    await first.start(recover=True)
    stored = await first.router.submit(_to_assistant("hi", session="lost-finish"))
    await channel.wait_for(1)
    await first.stop()
    # Rewind to the moment after the answer was stored but before the turn finished.
    async with first.db.engine.begin() as connection:
        await connection.execute(
            update(envelopes).where(envelopes.c.id == stored.id).values(status="pending")
        )
        await connection.execute(delete(deliveries).where(deliveries.c.envelope_id == stored.id))
    await first.db.close()

    second = App(settings)
    channel = RecordingChannel()
    second.dispatcher.register(channel)
    fake_llm.reset()
    await second.start(recover=True)
    try:
        [reply] = await channel.wait_for(1)
        assert reply.body == "echo: hi"
        assert fake_llm.requests == []  # answered from the stored message
        async with second.db.engine.connect() as connection:
            count = (
                await connection.execute(select(messages.c.id).where(messages.c.text == "hi"))
            ).all()
        assert len(count) == 1
    finally:
        await second.stop(grace_s=1)


async def _status_in_new_app(settings: Settings, envelope_id: int) -> str:
    probe = App(settings)
    await probe.db.open()
    try:
        return await _envelope_status(probe, envelope_id)
    finally:
        await probe.db.close()


class _FailingOnceFinisher:
    """A feature's finisher for ``flaky:`` senders whose write, stored with the turn's
    answer, fails the first time (as a database that refuses would)."""

    def __init__(self) -> None:
        self.failures = [OSError("database is locked")]
        self.told: list[tuple[str, object]] = []

    def replies(self, envelope: Envelope, result: TurnResult) -> list[Delivery]:
        return default_replies(envelope, result)

    def with_answer(self, envelope: Envelope, result: TurnResult) -> Callable[[Any], None]:
        def fail_once(connection: Any) -> None:
            if self.failures:
                raise self.failures.pop()

        return fail_once

    async def finished(
        self,
        envelope: Envelope,
        result: TurnResult,
        queued: list[Delivery],
        stored: Callable[[Any], None] | None,
    ) -> None:
        self.told.append((result.text, stored))


class _FlakyFeature(Feature):
    name = "flaky"

    def __init__(self, core: CorePorts) -> None:
        self.finisher = _FailingOnceFinisher()

    def finishers(self) -> Mapping[str, Finisher[Any]]:
        return {"flaky": self.finisher}


async def test_an_end_whose_transaction_with_the_answer_failed_is_recorded_by_itself(
    settings: Settings, channel: RecordingChannel
) -> None:
    # The transaction of the answer with the envelope's end (its reply queued, and the
    # finisher's write) fails: the answer is stored alone, then the envelope's end is
    # recorded by itself, and the finisher is told that none of its write was stored.
    app = App(settings, [_FlakyFeature])
    app.dispatcher.register(channel)
    await app.start(recover=True)
    try:
        finisher = app.feature(_FlakyFeature).finisher
        envelope = _to_assistant("hello", session="flaky")
        envelope.sender = "flaky:alice"
        stored = await app.router.submit(envelope)
        [reply] = await channel.wait_for(1)
        assert reply.meta["message_id"] == stored.id and finisher.failures == []
        assert reply.body == "echo: hello" and reply.meta["status"] == "ok"
        assert await _envelope_status(app, stored.id) == "done"
        await settled(app)
        assert finisher.told == [("echo: hello", None)]
        async with app.db.engine.connect() as connection:
            query = select(messages.c.text).where(messages.c.role == "assistant")
            assert (await connection.execute(query)).scalars().all() == ["echo: hello"]
    finally:
        await app.stop(grace_s=1)


async def test_an_envelope_is_finished_once(serving_app: App) -> None:
    from roost.bus.envelope import Delivery

    stored, _ = await serving_app.bus.accept(_to_assistant("hi", session="once"))
    reply = Delivery(
        target="test:alice", sender="agent:assistant", body="the answer", envelope_id=stored.id
    )
    [queued] = await serving_app.bus.finish(stored.id, "done", [reply])
    late = Delivery(
        target="test:alice", sender="agent:assistant", body="Cancelled.", envelope_id=stored.id
    )
    # The second finish writes nothing, and hands back what the first queued and is
    # still pending (its caller may not have learnt that it committed).
    [again] = await serving_app.bus.finish(stored.id, "cancelled", [late])
    assert again.id == queued.id and again.body == "the answer"
    assert await _envelope_status(serving_app, stored.id) == "done"
    assert [d.id for d in await serving_app.bus.deliveries_for(envelope_id=stored.id)] == [
        queued.id
    ]
    await serving_app.bus.delivered(queued.id, None)
    assert await serving_app.bus.finish(stored.id, "cancelled", [late]) == []


async def test_an_end_stored_with_the_answer_unbeknown_to_the_turn_is_still_delivered(
    serving_app: App, channel: RecordingChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The answer's transaction (answer, envelope finished, reply queued) commits, but the
    # turn is cancelled before it learns so: recording the end again (as cancelled) writes
    # nothing and hands the queued reply to the dispatcher, once.
    store_message = serving_app.conversations.append

    async def append_then_cancelled(*args: Any, **kwargs: Any) -> None:
        await store_message(*args, **kwargs)
        if kwargs.get("end") is not None:  # the final answer, with the envelope's end
            assert serving_app.agent("assistant").cancel("unbeknown")
            await asyncio.get_running_loop().create_future()  # the cancel lands here

    monkeypatch.setattr(serving_app.conversations, "append", append_then_cancelled)
    stored = await serving_app.router.submit(_to_assistant("hello", session="unbeknown"))
    [reply] = await channel.wait_for(1)
    assert reply.body == "echo: hello" and reply.meta["message_id"] == stored.id
    assert await _envelope_status(serving_app, stored.id) == "done"
    assert len(await serving_app.bus.deliveries_for(envelope_id=stored.id)) == 1
    await settled(serving_app)
    assert len(channel.delivered) == 1


async def test_an_end_recorded_by_itself_is_retried_when_the_store_refuses(
    serving_app: App, channel: RecordingChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No final answer to store the end with (an unknown agent): the router records the
    # envelope's end by itself, and tries again when the database refuses once.
    finish = serving_app.bus.finish
    failures = [OSError("database is locked")]

    async def refusing_once(*args: Any, **kwargs: Any) -> list[Delivery]:
        if failures:
            raise failures.pop()
        return await finish(*args, **kwargs)

    monkeypatch.setattr(serving_app.bus, "finish", refusing_once)
    envelope = _to_assistant("hello", session="refused")
    envelope.recipient = "agent:nobody"
    stored = await serving_app.router.submit(envelope)
    [reply] = await channel.wait_for(1)
    assert failures == [] and reply.meta["message_id"] == stored.id
    assert reply.meta["status"] == "unknown_agent" and "unknown agent 'nobody'" in reply.body
    assert await _envelope_status(serving_app, stored.id) == "done"

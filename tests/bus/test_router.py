"""The inbox and the router: stored before acknowledged, finished with its reply, run
again after a crash without storing the message twice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from roost.app import App
from roost.bus.envelope import Envelope
from roost.bus.store import Finishing
from roost.config.settings import Settings
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


async def test_a_failed_attempt_to_record_the_end_is_retried(
    serving_app: App, channel: RecordingChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Recording the end (the envelope finished, its reply queued) fails once, whether it
    # goes with the turn's answer (then the answer is stored alone and the router records
    # the end itself) or the router records it.
    original = Finishing.__call__
    failures = [OSError("database is locked")]

    def flaky_finish(self: Finishing, connection: Any) -> None:
        if failures:
            raise failures.pop()
        original(self, connection)

    monkeypatch.setattr(Finishing, "__call__", flaky_finish)
    stored = await serving_app.router.submit(_to_assistant("hello"))
    [reply] = await channel.wait_for(1)
    assert reply.meta["message_id"] == stored.id and failures == []
    assert reply.body == "echo: hello" and reply.meta["status"] == "ok"
    assert await _envelope_status(serving_app, stored.id) == "done"


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
    # The answer's transaction (answer, envelope finished, reply queued) committed, but the
    # router did not learn it (as when the turn is cancelled while it commits): recording
    # the end again writes nothing and hands the queued reply to the dispatcher, once.
    from roost.bus import router

    monkeypatch.setattr(router._Answer, "stored", lambda self: None)
    stored = await serving_app.router.submit(_to_assistant("hello", session="unbeknown"))
    [reply] = await channel.wait_for(1)
    assert reply.body == "echo: hello" and reply.meta["message_id"] == stored.id
    assert await _envelope_status(serving_app, stored.id) == "done"
    assert len(await serving_app.bus.deliveries_for(envelope_id=stored.id)) == 1
    await settled(serving_app)
    assert len(channel.delivered) == 1

"""Recovery looks at every earlier turn of an envelope, not only the latest: two crashes
in one turn neither store the message twice nor call the model for a stored answer."""

from __future__ import annotations

import asyncio
import json
import threading

from sqlalchemy import Connection, delete, insert, select, update

from roost.app import App
from roost.bus.envelope import Delivery, Envelope
from roost.config.settings import Settings
from roost.store.tables import deliveries, envelopes, messages, turns, utcnow
from roost.testing import RecordingChannel
from tests.fakes.llm_server import FakeLLM


def _to_assistant(body: str, session: str) -> Envelope:
    return Envelope(
        sender="test:alice",
        recipient="agent:assistant",
        session=session,
        body=body,
        reply_to="test:alice",
    )


async def _cut_short(settings: Settings, fake_llm: FakeLLM, body: str | None = None) -> int:
    """Start an App whose turn (a new one for ``body``, or the recovered one) is stopped
    while its model call is held open; return the envelope id (0 if recovered)."""
    app = App(settings)
    fake_llm.reset()
    fake_llm.delay(30)
    await app.start(recover=True)
    envelope_id = 0
    if body is not None:
        envelope_id = (await app.router.submit(_to_assistant(body, "twice"))).id
    await asyncio.to_thread(fake_llm.wait_for_requests, 1)
    await app.stop(grace_s=0)  # like a crash: the turn never finished
    return envelope_id


async def _user_texts(app: App, session: str) -> list[str]:
    session_id = await app.conversations.session_id("assistant", session)
    return [m.text for m in await app.conversations.history(session_id) if m.role == "user"]


async def test_two_interruptions_in_one_turn_store_the_message_once(
    settings: Settings, fake_llm: FakeLLM
) -> None:
    envelope_id = await _cut_short(settings, fake_llm, "the question")
    await _cut_short(settings, fake_llm)  # the re-run, cut short in its model call too

    fake_llm.reset()
    fake_llm.reply("the answer, at last")
    app = App(settings)
    channel = RecordingChannel()
    app.dispatcher.register(channel)
    await app.start(recover=True)
    try:
        [reply] = await channel.wait_for(1)
        assert reply.body == "the answer, at last" and reply.meta["message_id"] == envelope_id
        assert await _user_texts(app, "twice") == ["the question"]
        [request] = fake_llm.requests
        sent = [m["content"] for m in request.body["messages"] if m["role"] == "user"]
        assert json.dumps(sent).count("the question") == 1
    finally:
        await app.stop(grace_s=1)


async def test_a_stored_answer_is_used_even_after_a_later_re_run_was_cut_short(
    settings: Settings, fake_llm: FakeLLM
) -> None:
    first = App(settings)
    channel = RecordingChannel()
    first.dispatcher.register(channel)
    await first.start(recover=True)
    stored = await first.router.submit(_to_assistant("hi", "answered"))
    await channel.wait_for(1)
    await first.stop()
    # Rewind to: the answer stored, the finish lost, and a re-run that began a turn of its
    # own and was killed before storing anything.
    async with first.db.engine.begin() as connection:
        await connection.execute(
            update(envelopes).where(envelopes.c.id == stored.id).values(status="pending")
        )
        await connection.execute(delete(deliveries).where(deliveries.c.envelope_id == stored.id))
        [session_id] = (
            await connection.execute(
                select(turns.c.session_id).where(turns.c.envelope_id == stored.id)
            )
        ).one()
        await connection.execute(
            insert(turns).values(
                session_id=session_id,
                agent="assistant",
                status="interrupted",
                started_at=utcnow(),
                rounds=0,
                envelope_id=stored.id,
            )
        )
    await first.db.close()

    fake_llm.reset()
    second = App(settings)
    channel = RecordingChannel()
    second.dispatcher.register(channel)
    await second.start(recover=True)
    try:
        [reply] = await channel.wait_for(1)
        assert reply.body == "echo: hi"
        assert fake_llm.requests == []  # answered from the stored message
        async with second.db.engine.connect() as connection:
            rows = (await connection.execute(select(messages.c.role))).all()
        assert [row.role for row in rows] == ["user", "assistant"]
    finally:
        await second.stop(grace_s=1)


async def test_a_delivered_mark_goes_before_the_writes_waiting_for_the_database(
    serving_app: App,
) -> None:
    # Until the mark commits, a crash sends the reply again after the restart: under load
    # it must not wait behind the turns' transactions queued for the database.
    stored, _ = await serving_app.bus.accept(_to_assistant("hi", "marks"))
    reply = Delivery(target="test:alice", sender="agent:assistant", body="a", envelope_id=stored.id)
    [queued] = await serving_app.bus.finish(stored.id, "done", [reply])
    running, release = threading.Event(), threading.Event()

    def hold(connection: Connection) -> None:  # the transaction under way
        running.set()
        release.wait(10)

    seen: list[str] = []

    def queued_turn_write(connection: Connection) -> None:
        status = select(deliveries.c.status).where(deliveries.c.id == queued.id)
        seen.append(connection.execute(status).scalar_one())

    holder = asyncio.create_task(serving_app.db.write(hold))
    await asyncio.to_thread(running.wait, 10)
    waiting = asyncio.create_task(serving_app.db.write(queued_turn_write))
    mark = asyncio.create_task(serving_app.bus.delivered_many([(queued.id, "ref")]))
    await asyncio.sleep(0)  # one step of the loop: both tasks hand their write over, in order
    release.set()
    await asyncio.gather(holder, waiting, mark)
    assert seen == ["delivered"]

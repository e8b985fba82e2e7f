"""The router's turn limit (``max_turns``) and batch submits.

Turns beyond the limit wait, stored, in arrival order; a session's later messages wait
without a slot; delegated messages never wait; stopping leaves waiting ones pending.
The agent here runs a turn that ends when the test says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from roost.agents.actor import Agent
from roost.agents.turn import TurnResult
from roost.app import App
from roost.bus.envelope import Envelope
from roost.bus.router import Router, RouterStopped
from roost.bus.store import AcceptedEnvelopes
from roost.config.settings import Settings
from roost.testing import RecordingChannel, settled
from tests.bus.conftest import eventually


class HeldTurns:
    """A turn runner whose turns start (recorded in order) and end when released."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self._release: dict[str, asyncio.Event] = {}
        self._changed = asyncio.Event()

    async def __call__(
        self, deps: Any, session: str, text: str, observer: Any = None, origin: Any = None
    ) -> TurnResult:
        self.started.append(text)
        self._changed.set()
        await self._event(text).wait()
        return TurnResult(agent=deps.settings.name, session=session, text=text, status="ok")

    def release(self, *texts: str) -> None:
        for text in texts:
            self._event(text).set()

    async def wait_started(self, count: int) -> list[str]:
        async with asyncio.timeout(10):
            while len(self.started) < count:
                self._changed.clear()
                await self._changed.wait()
        return list(self.started)

    def _event(self, text: str) -> asyncio.Event:
        return self._release.setdefault(text, asyncio.Event())


@pytest.fixture
async def held(serving_app: App) -> AsyncIterator[HeldTurns]:
    turns = HeldTurns()
    real = serving_app.agents["assistant"]
    agent = Agent(real.deps, runner=turns)
    agent.start()
    serving_app.agents["assistant"] = agent
    await real.stop(0)
    yield turns
    turns.release(*turns.started)
    await agent.stop(0)


def _message(
    body: str, session: str = "s", *, depth: int = 0, dedup: str | None = None
) -> Envelope:
    return Envelope(
        sender="test:alice",
        recipient="agent:assistant",
        session=session,
        body=body,
        reply_to="test:alice",
        depth=depth,
        dedup_key=dedup,
    )


async def _waiting(router: Router, count: int) -> None:
    """Wait until ``count`` accepted messages wait for a slot."""

    async def enough() -> bool:
        return router.waiting >= count

    await eventually(enough)


async def test_turns_beyond_the_limit_wait_in_arrival_order(
    serving_app: App, held: HeldTurns, channel: RecordingChannel
) -> None:
    router = serving_app.router
    router.set_max_turns(2)
    for n in range(5):
        await router.submit(_message(f"m{n}", session=f"s{n}"))
    assert await held.wait_started(2) == ["m0", "m1"]
    # Slots are taken as turns are spawned: two tasks, three waiting, nothing in between.
    assert router.in_flight == 2 and router.waiting == 3 and held.started == ["m0", "m1"]
    held.release("m1")
    assert await held.wait_started(3) == ["m0", "m1", "m2"]
    held.release("m0", "m2", "m3", "m4")
    assert await held.wait_started(5) == ["m0", "m1", "m2", "m3", "m4"]
    await channel.wait_for(5)
    assert router.waiting == 0


async def test_a_sessions_later_message_waits_without_taking_a_slot(
    serving_app: App, held: HeldTurns, channel: RecordingChannel
) -> None:
    router = serving_app.router
    router.set_max_turns(2)
    await router.submit(_message("a1", session="a"))
    await router.submit(_message("a2", session="a"))
    await router.submit(_message("b1", session="b"))
    # a2 waits behind a1 in its session; b1 takes the second slot.
    assert await held.wait_started(2) == ["a1", "b1"]
    held.release("a1")
    assert await held.wait_started(3) == ["a1", "b1", "a2"]
    held.release("a2", "b1")
    await channel.wait_for(3)


async def test_a_delegated_message_never_waits_for_a_slot(
    serving_app: App, held: HeldTurns, channel: RecordingChannel
) -> None:
    router = serving_app.router
    router.set_max_turns(1)
    await router.submit(_message("caller", session="c"))
    await router.submit(_message("queued", session="q"))
    await router.submit(_message("delegated", session="d", depth=1))
    assert await held.wait_started(2) == ["caller", "delegated"]
    assert router.waiting == 1
    held.release("caller", "delegated", "queued")
    await channel.wait_for(3)


async def test_messages_waiting_at_a_stop_stay_pending_for_the_next_start(
    settings: Settings, held: HeldTurns, serving_app: App
) -> None:
    router = serving_app.router
    router.set_max_turns(1)
    first = await router.submit(_message("first", session="x"))
    second = await router.submit(_message("second", session="y"))
    asking = asyncio.create_task(router.ask(_message("third", session="z")))
    await held.wait_started(1)
    await _waiting(router, 2)  # the asked one is stored and waits behind "second"
    await router.stop()
    pending = {envelope.id for envelope in await serving_app.bus.unfinished()}
    assert {first.id, second.id} <= pending and len(pending) >= 3
    assert held.started == ["first"]
    with pytest.raises(RouterStopped, match="next start"):
        await asyncio.wait_for(asking, 5)


async def test_max_turns_must_be_at_least_one(serving_app: App) -> None:
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="max_turns"):
            serving_app.router.set_max_turns(bad)  # type: ignore[arg-type]
    serving_app.router.set_max_turns(3)
    assert serving_app.router.max_turns == 3


async def test_submit_many_stores_all_at_once_and_runs_a_duplicate_once(
    serving_app: App, held: HeldTurns, channel: RecordingChannel
) -> None:
    router = serving_app.router
    first = await router.submit(_message("earlier", session="e", dedup="k1"))
    stored = await router.submit_many(
        [
            _message("again", session="e", dedup="k1"),
            _message("new", session="n", dedup="k2"),
            _message("same batch", session="n", dedup="k2"),
            _message("plain", session="p"),
        ]
    )
    assert [duplicate for _, duplicate in stored] == [True, False, True, False]
    assert stored[0][0].id == first.id and stored[0][0].body == "earlier"
    assert stored[2][0].id == stored[1][0].id
    held.release("earlier", "new", "plain")
    await channel.wait_for(3)
    await settled(serving_app)
    assert sorted(held.started) == ["earlier", "new", "plain"]


async def test_accepted_envelopes_are_stored_in_the_callers_transaction(serving_app: App) -> None:
    accepted = AcceptedEnvelopes()
    batch = [_message("one", dedup="x1"), _message("two", dedup="x1")]

    def store_and_fail(connection: Any) -> None:
        accepted.store(connection, batch)
        raise RuntimeError("the caller's transaction fails")

    with pytest.raises(RuntimeError):
        await serving_app.db.write(store_and_fail)
    assert await serving_app.bus.unfinished() == []  # rolled back with the caller's writes
    await serving_app.db.write(lambda connection: accepted.store(connection, batch))
    [(one, one_duplicate), (again, again_duplicate)] = accepted.accepted
    assert (one_duplicate, again_duplicate) == (False, True) and again.id == one.id

    async def stored() -> bool:
        return [e.body for e in await serving_app.bus.unfinished()] == ["one"]

    await eventually(stored)


async def test_idle_waits_for_the_turns_waiting_for_a_slot_too(
    serving_app: App, held: HeldTurns, channel: RecordingChannel
) -> None:
    router = serving_app.router
    router.set_max_turns(1)
    for n in range(3):
        await router.submit(_message(f"m{n}", session=f"s{n}"))
    await held.wait_started(1)
    idle = asyncio.create_task(router.idle())
    held.release("m0", "m1", "m2")
    await asyncio.wait_for(idle, 10)
    assert held.started == ["m0", "m1", "m2"]
    assert (router.in_flight, router.waiting) == (0, 0)
    await settled(serving_app)
    assert [d.body for d in channel.delivered] == ["m0", "m1", "m2"]
    assert serving_app.dispatcher.stats().in_flight == 0

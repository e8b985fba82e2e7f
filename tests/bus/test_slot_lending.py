"""A turn waiting for something outside lends its slot, and takes one back first."""

from __future__ import annotations

import asyncio

from roost.bus.envelope import Envelope
from roost.bus.slots import TurnSlots


class Turns:
    """Turns that end when the test says so; ``started`` in order."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.ends: dict[int, asyncio.Event] = {}
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def spawn(self, envelope: Envelope, _recovered: bool) -> asyncio.Task[None]:
        self.started.append(envelope.id)
        end = self.ends.setdefault(envelope.id, asyncio.Event())

        async def turn() -> None:
            await end.wait()

        task = asyncio.create_task(turn())
        self.tasks[envelope.id] = task
        return task

    async def end(self, envelope_id: int) -> None:
        self.ends[envelope_id].set()
        await self.tasks[envelope_id]
        await asyncio.sleep(0)  # its done-callback admits the next

    async def end_all(self) -> None:
        for envelope_id in list(self.tasks):
            await self.end(envelope_id)


def message(envelope_id: int) -> Envelope:
    return Envelope("test:x", "agent:a", f"s{envelope_id}", "hi", id=envelope_id)


async def test_a_lent_slot_runs_another_turn_and_comes_back_before_new_ones() -> None:
    turns = Turns()
    slots = TurnSlots(turns.spawn, max_turns=1)
    for envelope_id in (1, 2, 3):
        slots.start(message(envelope_id), False)
    assert turns.started == [1]
    lending = slots.waiting_without_slot(1)
    await lending.__aenter__()
    assert turns.started == [1, 2]  # 2 runs while 1 waits
    back = asyncio.create_task(lending.__aexit__(None, None, None))
    await asyncio.sleep(0)
    assert not back.done()  # 2 holds the only slot
    await turns.end(2)
    await asyncio.wait_for(back, 5)
    assert turns.started == [1, 2]  # 1 took the slot back before 3
    await turns.end(1)
    assert turns.started == [1, 2, 3]
    await turns.end_all()


async def test_a_turn_ending_while_it_lent_its_slot_does_not_free_another() -> None:
    turns = Turns()
    slots = TurnSlots(turns.spawn, max_turns=1)
    for envelope_id in (1, 2, 3):
        slots.start(message(envelope_id), False)
    lending = slots.waiting_without_slot(1)
    await lending.__aenter__()
    try:
        raise asyncio.CancelledError  # the waiting turn is cancelled
    except asyncio.CancelledError as exc:
        assert not await lending.__aexit__(type(exc), exc, exc.__traceback__)
    await turns.end(1)
    assert turns.started == [1, 2]  # 1 had no slot to give: 3 still waits for 2's
    await turns.end(2)
    assert turns.started == [1, 2, 3]
    await turns.end_all()


async def test_a_turn_without_a_slot_just_waits() -> None:
    turns = Turns()
    slots = TurnSlots(turns.spawn, max_turns=1)
    async with slots.waiting_without_slot(None):
        pass
    async with slots.waiting_without_slot(42):
        pass
    slots.start(message(1), False)
    slots.start(message(2), False)
    assert turns.started == [1]
    await turns.end_all()

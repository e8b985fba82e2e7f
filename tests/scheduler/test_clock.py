"""ManualClock wakes sleepers only when told; SystemClock honours deadlines and wake."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from roost.timing.clock import Clock, ManualClock, SystemClock

START = datetime(2026, 5, 8, 10, tzinfo=UTC)


async def settle() -> None:
    """Let woken coroutines run to completion."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_manual_clock_wakes_a_sleeper_only_once_its_deadline_passes() -> None:
    clock = ManualClock(START)
    sleeper = asyncio.create_task(clock.sleep_until(START + timedelta(minutes=10), asyncio.Event()))
    await clock.wait_for_sleepers(1)

    clock.advance(timedelta(minutes=9, seconds=59))
    await settle()
    assert not sleeper.done()

    clock.advance(timedelta(seconds=1))
    await settle()
    assert sleeper.done()
    assert clock.now() == START + timedelta(minutes=10)
    assert clock.sleepers == 0


async def test_manual_clock_set_wakes_only_the_sleepers_due() -> None:
    clock = ManualClock(START)
    early = asyncio.create_task(clock.sleep_until(START + timedelta(hours=1), asyncio.Event()))
    late = asyncio.create_task(clock.sleep_until(START + timedelta(hours=3), asyncio.Event()))
    await clock.wait_for_sleepers(2)
    assert clock.next_deadline() == START + timedelta(hours=1)

    clock.set(START + timedelta(hours=2))
    await settle()
    assert early.done()
    assert not late.done()
    assert clock.next_deadline() == START + timedelta(hours=3)
    late.cancel()


async def test_manual_clock_wake_event_interrupts_sleep() -> None:
    clock = ManualClock(START)
    wake = asyncio.Event()
    sleeper = asyncio.create_task(clock.sleep_until(START + timedelta(days=1), wake))
    await clock.wait_for_sleepers(1)

    wake.set()
    await settle()
    assert sleeper.done()
    assert clock.now() == START  # woken without any time passing
    assert clock.sleepers == 0


async def test_manual_clock_returns_at_once_for_past_deadlines_or_set_wake() -> None:
    clock = ManualClock(START)
    await clock.sleep_until(START, asyncio.Event())
    already = asyncio.Event()
    already.set()
    await clock.sleep_until(START + timedelta(hours=1), already)
    assert clock.sleepers == 0


async def test_manual_clock_going_back_wakes_nobody() -> None:
    clock = ManualClock(START)
    sleeper = asyncio.create_task(clock.sleep_until(START + timedelta(hours=1), asyncio.Event()))
    await clock.wait_for_sleepers(1)
    clock.set(START - timedelta(hours=1))
    await settle()
    assert not sleeper.done()
    sleeper.cancel()
    await settle()
    assert clock.sleepers == 0


async def test_manual_clock_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 5, 8))


async def test_wait_for_sleepers_gives_up_when_nobody_sleeps() -> None:
    with pytest.raises(TimeoutError, match="0 of 1 sleepers"):
        await ManualClock(START).wait_for_sleepers(1, max_turns=10)


def test_both_clocks_satisfy_the_protocol() -> None:
    clocks: list[Clock] = [SystemClock(), ManualClock(START)]
    assert all(clock.now().tzinfo is not None for clock in clocks)


async def test_system_clock_returns_on_time_and_in_deadline_order() -> None:
    clock = SystemClock()
    finished: list[str] = []

    async def sleep(name: str, delay_s: float) -> None:
        await clock.sleep_until(clock.now() + timedelta(seconds=delay_s), asyncio.Event())
        finished.append(name)

    deadline = clock.now() + timedelta(milliseconds=50)
    await asyncio.gather(sleep("later", 0.15), sleep("sooner", 0.05))
    assert finished == ["sooner", "later"]
    assert clock.now() >= deadline


async def test_system_clock_wake_returns_before_the_deadline() -> None:
    clock = SystemClock()
    wake = asyncio.Event()
    deadline = clock.now() + timedelta(seconds=30)
    asyncio.get_running_loop().call_later(0.01, wake.set)
    await asyncio.wait_for(clock.sleep_until(deadline, wake), timeout=5)
    assert clock.now() < deadline


async def test_system_clock_rechecks_the_wall_clock_between_naps() -> None:
    class JumpingClock(SystemClock):
        """Wall time leaps a day after the first reading, as after a suspend."""

        def __init__(self) -> None:
            super().__init__(max_nap_s=0.01)
            self.readings = 0

        def now(self) -> datetime:
            self.readings += 1
            return START if self.readings == 1 else START + timedelta(days=1)

    clock = JumpingClock()
    await asyncio.wait_for(clock.sleep_until(START + timedelta(hours=1), asyncio.Event()), 5)
    assert clock.readings == 2

"""The heap of next fire times and the plan for a due job (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from roost.scheduler.due_index import DueIndex
from roost.scheduler.planning import LATE_GRACE, plan_due
from roost.timing.schedules import EverySchedule

T0 = datetime(2026, 5, 8, 10, tzinfo=UTC)


def test_the_heap_pops_due_jobs_in_order_and_forgets_moved_and_removed_ones() -> None:
    index = DueIndex()
    for job_id in range(1, 6):
        index.set(job_id, T0 + timedelta(minutes=job_id))
    index.set(2, T0 + timedelta(hours=1))  # moved later
    index.set(3, None)  # no longer fires
    assert index.next_due() == T0 + timedelta(minutes=1)
    assert index.pop_due(T0 + timedelta(minutes=10)) == [1, 4, 5]
    assert len(index) == 1 and index.due_at(2) == T0 + timedelta(hours=1)
    for n in range(10_000):  # stale entries are compacted, not kept forever
        index.set(2, T0 + timedelta(seconds=n))
    assert index.entries < 200
    assert index.pop_due(T0 + timedelta(days=1)) == [2]
    assert index.next_due() is None


def test_a_due_fire_runs_on_time_but_late_or_piled_up_ones_follow_catch_up() -> None:
    every = EverySchedule(timedelta(minutes=10), T0)
    due = T0 + timedelta(minutes=10)
    on_time = plan_due(every, "skip", due, due + timedelta(seconds=1), started_at=T0)
    assert (on_time.run, on_time.missed) == ([due], [])
    assert on_time.next_due == T0 + timedelta(minutes=20)
    slept = plan_due(every, "skip", due, due + LATE_GRACE + timedelta(seconds=1), T0)
    assert (slept.run, slept.missed) == ([], [due])
    started = due + timedelta(milliseconds=1)
    before_start = plan_due(every, "skip", due, due + timedelta(seconds=1), started_at=started)
    assert before_start.run == [] and before_start.missed == [due]  # due while Roost was down
    piled = plan_due(every, "once", due, due + timedelta(minutes=25), T0)
    assert piled.run == [T0 + timedelta(minutes=30)] and piled.missed == [
        due,
        T0 + timedelta(minutes=20),
    ]
    assert piled.next_due == T0 + timedelta(minutes=40)

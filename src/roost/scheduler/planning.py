"""What a due job does now: which fire times run, which are missed, when it fires next.

A fire time runs normally when it is the only one due and the scheduler noticed it
on time. Anything else — fire times that passed while Roost was not running, or
while the machine slept, or several that piled up — follows the job's ``catch_up``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from roost.timing.catch_up import CatchUpPolicy, apply_catch_up, missed_fires
from roost.timing.schedules import Schedule

LATE_GRACE = timedelta(minutes=2)
"""A fire noticed later than this (the machine slept) counts as missed."""
MAX_CATCH_UP = 50
"""At most this many missed fire times are recorded, or run (catch_up: all), per job."""


@dataclass
class FirePlan:
    run: list[datetime] = field(default_factory=list)
    """Fire times to run now, oldest first."""
    missed: list[datetime] = field(default_factory=list)
    """Fire times to record as missed, oldest first."""
    dropped: bool = False
    """Older missed fire times beyond MAX_CATCH_UP were not even recorded."""
    next_due: datetime | None = None
    last_due: datetime | None = None


def plan_due(
    schedule: Schedule,
    policy: CatchUpPolicy,
    next_due: datetime,
    now: datetime,
    started_at: datetime,
) -> FirePlan:
    """The plan for a job whose ``next_due`` has come (``next_due <= now``)."""
    later = missed_fires(schedule, next_due, now, MAX_CATCH_UP)
    fires = list(later.times) if later.total_truncated else [next_due, *later.times]
    on_time = len(fires) == 1 and fires[0] >= started_at and now - fires[0] <= LATE_GRACE
    missed: list[datetime] = []
    if on_time:
        run = fires
    else:
        run, missed = apply_catch_up(policy, fires, max_all=MAX_CATCH_UP)
    return FirePlan(
        run=run,
        missed=missed,
        dropped=later.total_truncated,
        next_due=schedule.next_after(fires[-1]),
        last_due=fires[-1],
    )

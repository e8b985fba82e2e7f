"""Catch-up after downtime: which fire times were missed, and which of them still run."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from roost.timing.schedules import Schedule
from roost.timing.zones import as_utc

CatchUpPolicy = Literal["skip", "once", "all"]


@dataclass(frozen=True)
class Missed:
    """Fire times missed during downtime, oldest first.

    At most the requested limit of the *most recent* ones are kept;
    ``total_truncated`` is True when older ones were left out.
    """

    times: list[datetime]
    total_truncated: bool


def missed_fires(schedule: Schedule, last_due: datetime, now: datetime, limit: int) -> Missed:
    """The fire times in ``(last_due, now]``, at most ``limit`` of the latest ones.

    Work stays proportional to ``limit`` rather than to the downtime: after the
    first ``limit + 1`` fires show the schedule's density, windows ending at
    ``now`` are widened until they hold ``limit`` fires.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    head = _fires_in(schedule, last_due, now, keep=limit + 1, stop_when_full=True)
    if len(head) <= limit:
        return Missed(list(head), total_truncated=False)
    window = head[-1] - as_utc(last_due)
    while True:
        start = max(as_utc(last_due), as_utc(now) - window)
        tail = _fires_in(schedule, start, now, keep=limit, stop_when_full=False)
        if len(tail) == limit or start <= as_utc(last_due):
            return Missed(list(tail), total_truncated=True)
        window *= 2


def _fires_in(
    schedule: Schedule, after: datetime, until: datetime, keep: int, stop_when_full: bool
) -> deque[datetime]:
    """Fire times in ``(after, until]``: the first ``keep`` or, scanning all, the last."""
    found: deque[datetime] = deque(maxlen=keep)
    cursor: datetime | None = as_utc(after)
    end = as_utc(until)
    while cursor is not None and not (stop_when_full and len(found) == keep):
        cursor = schedule.next_after(cursor)
        if cursor is None or cursor > end:
            break
        found.append(cursor)
    return found


def apply_catch_up(
    policy: CatchUpPolicy, missed: list[datetime], max_all: int = 50
) -> tuple[list[datetime], list[datetime]]:
    """Split missed fire times into ``(to_run, to_record_missed)``, both oldest first.

    * ``skip``: run none; record every one as missed.
    * ``once``: run only the latest; record the others as missed.
    * ``all``: run the latest ``max_all``; record any older ones as missed, so a long
      outage cannot unleash an unbounded burst of runs.
    """
    if max_all < 1:
        raise ValueError("max_all must be at least 1")
    ordered = sorted(missed)
    if policy == "skip" or not ordered:
        return [], ordered
    keep = 1 if policy == "once" else max_all
    return ordered[-keep:], ordered[:-keep]

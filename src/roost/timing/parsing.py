"""Reading schedules as people write them: cron, ``every 15m``, ``at``/``in 2h``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from roost.timing.cron import parse_cron
from roost.timing.errors import ScheduleError
from roost.timing.schedules import UNIT_SECONDS, AtSchedule, EverySchedule, Schedule
from roost.timing.zones import as_utc, local_to_utc

_DURATION = re.compile(r"^(?:\s*\d{1,9}\s*[dhms])+\s*$", re.IGNORECASE)
_DURATION_PART = re.compile(r"(\d+)\s*([dhms])", re.IGNORECASE)
_MAX_EVERY = timedelta(days=366)


def _parse_duration(text: str) -> timedelta | None:
    """``1h30m``-style text as a timedelta, or None when it is not in that form."""
    if not _DURATION.match(text):
        return None
    parts = _DURATION_PART.findall(text)
    units = [unit.lower() for _, unit in parts]
    if len(set(units)) != len(units):
        return None
    return timedelta(seconds=sum(int(n) * UNIT_SECONDS[u.lower()] for n, u in parts))


def parse_every(text: str) -> timedelta:
    """An interval like ``30s``, ``15m``, ``2h``, ``1d`` or ``1h30m``; at least 1s."""
    interval = _parse_duration(text)
    if interval is None:
        raise ScheduleError(f"every '{text}': use a number with s, m, h or d, e.g. 15m or 1h30m")
    if interval < timedelta(seconds=1):
        raise ScheduleError(f"every '{text}' is too short; the minimum is 1s")
    if interval > _MAX_EVERY:
        raise ScheduleError(f"every '{text}' is longer than a year; use cron or at instead")
    return interval


def is_relative_at(text: str) -> bool:
    """Whether ``at`` text is relative (``in 2h``) rather than a timestamp."""
    return text.strip().lower().startswith("in ")


def parse_at(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """An ISO 8601 time (naive means ``zone``) or ``in 2h``/``in 1d 2h`` after ``now``."""
    bad = f"at '{text}' is not a timestamp: use 2026-12-01T09:00 or 'in 2h'"
    stripped = text.strip()
    if is_relative_at(stripped):
        delay = _parse_duration(stripped[3:])
        if delay is None or delay <= timedelta(0):
            raise ScheduleError(bad)
        return as_utc(now) + delay
    try:
        when = datetime.fromisoformat(stripped)
    except ValueError:
        raise ScheduleError(bad) from None
    if when.tzinfo is None:
        return local_to_utc(when, zone)
    return when.astimezone(UTC)


def build_schedule(
    *,
    cron: str | None,
    every: str | None,
    at: str | None,
    zone: ZoneInfo,
    now: datetime,
    anchor: datetime | None = None,
) -> Schedule:
    """The schedule for exactly one of ``cron``, ``every`` or ``at``.

    ``every`` counts from ``anchor`` (default ``now``): pass the job's creation time
    so restarts keep the same beat. ``at 'in 2h'`` is measured from ``now``.
    """
    check_one_kind(cron=cron, every=every, at=at)
    if cron is not None:
        return parse_cron(cron, zone)
    if every is not None:
        return EverySchedule(parse_every(every), anchor if anchor is not None else now)
    assert at is not None  # check_one_kind guarantees exactly one was given
    return AtSchedule(parse_at(at, zone, now), zone)


def check_one_kind(*, cron: str | None, every: str | None, at: str | None) -> None:
    """Raise ScheduleError unless exactly one of the three keys was given."""
    given = [
        key for key, value in (("cron", cron), ("every", every), ("at", at)) if value is not None
    ]
    if len(given) != 1:
        got = " and ".join(given) if given else "none of them"
        raise ScheduleError(f"a schedule needs exactly one of cron, every or at; got {got}")

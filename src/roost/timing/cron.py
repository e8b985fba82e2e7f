"""Cron schedules: five fields (or a macro) matched against a zone's wall time.

Daylight saving time
--------------------
Cron fields are matched against *local wall time* in the job's zone. croniter
only ever sees naive wall times (so its own DST handling never runs); this
module maps each matching wall time to UTC itself.

The rules differ for jobs with a fixed hour field and jobs whose hour field
matches every hour (``*``), as in Vixie cron: a fixed-hour job is about a time
of day and should run once that day; an every-hour job is about elapsed time
and should run once per real hour.

* A wall time that does not exist, because the clocks jump forward over it
  (02:30 in Berlin on 2026-03-29): a fixed-hour job fires once at the first
  real instant after the gap (03:00 local), so a daily 02:30 job still runs
  that day; several matches inside one gap collapse into that single fire.
  An every-hour job skips it: ``30 * * * *`` fires at 01:30 CET and then
  03:30 CEST, one real hour apart.
* A wall time that occurs twice, because the clocks fall back
  (02:30 in Berlin on 2026-10-25): a fixed-hour job fires once, at the first
  occurrence; an every-hour job fires at both, since they are distinct real
  hours. Either way no UTC instant fires twice and no real hour is skipped.

Naive ``at`` timestamps follow the fixed-hour rules: a time in a gap moves to
the gap's end, a repeated time means its first occurrence.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar
from zoneinfo import ZoneInfo

from roost.timing.errors import ScheduleError
from roost.timing.schedules import Schedule, ScheduleKind
from roost.timing.zones import as_utc, local_to_utc, wall_exists, zone_name

if TYPE_CHECKING:
    from croniter import croniter

# croniter (and dateutil) is imported when a cron expression is first parsed: a
# configuration without cron jobs never pays for it at start-up.

CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_FIELD_NAMES = ("minute", "hour", "day", "month", "weekday")
_CRON_SHAPE = "5 fields (minute hour day month weekday) or @daily/@hourly/@weekly/@monthly/…"
# H/R fields need a hash id or re-randomise on every evaluation; neither suits a fixed plan.
_HASHED_FIELD = re.compile(r"^[hr](\(|/|$)", re.IGNORECASE)
# Any start works for "does it ever fire": croniter searches 50 years ahead, which
# covers every day-of-month/weekday/leap-year combination.
_CRON_PROBE_START = datetime(2000, 1, 1)


class CronSchedule(Schedule):
    """A five-field cron expression (or macro) evaluated in a zone's wall time."""

    kind: ClassVar[ScheduleKind] = "cron"

    def __init__(self, expr: str, zone: ZoneInfo) -> None:
        self.expr = _normalise_cron(expr)
        self.zone = zone
        self._cron = _compile_cron(self.expr, original=expr)
        hours = self._cron.expanded[1]
        self._every_hour = hours == ["*"] or len(set(hours)) == 24

    def describe(self) -> str:
        return f"cron {self.expr} ({zone_name(self.zone)})"

    def next_after(self, t: datetime) -> datetime | None:
        from croniter import CroniterBadDateError

        t = as_utc(t)
        local = t.astimezone(self.zone)
        start = local.replace(tzinfo=None, fold=0) - self._repeat_lookback(local)
        best: datetime | None = None
        while True:
            try:
                wall = self._cron.get_next(datetime, start_time=start)
            except CroniterBadDateError:
                return best
            floor, instants = self._instants(wall)
            for instant in instants:
                if instant > t and (best is None or instant < best):
                    best = instant
            # Floors never decrease from one wall to the next and bound every later
            # instant, so nothing after this wall can beat the best one seen.
            if best is not None and floor >= best:
                return best
            start = wall

    def _repeat_lookback(self, local: datetime) -> timedelta:
        # Inside the first pass of a repeated hour, walls just behind t still have a
        # second occurrence ahead of it, so the search must start that far back.
        if not self._every_hour or local.fold == 1:
            return timedelta(0)
        first_offset = local.utcoffset()
        second_offset = local.replace(fold=1).utcoffset()
        if first_offset is None or second_offset is None:
            return timedelta(0)
        return max(first_offset - second_offset, timedelta(0))

    def _instants(self, wall: datetime) -> tuple[datetime, list[datetime]]:
        """Where ``wall`` fires, plus a lower bound for every later wall's instants."""
        first = local_to_utc(wall, self.zone)
        if not self._every_hour:
            return first, [first]
        if not wall_exists(wall, self.zone):
            return first, []
        repeat = as_utc(wall.replace(tzinfo=self.zone, fold=1))
        return first, [first, repeat] if repeat > first else [first]


def parse_cron(expr: str, zone: ZoneInfo) -> CronSchedule:
    """A cron schedule; ScheduleError names the bad field or the expected shape."""
    return CronSchedule(expr, zone)


def _normalise_cron(expr: str) -> str:
    text = " ".join(expr.split())
    if text.startswith("@"):
        if text.lower() not in CRON_MACROS:
            raise ScheduleError(f"unknown cron macro '{text}'; use one of {', '.join(CRON_MACROS)}")
        return text.lower()
    fields = text.split(" ") if text else []
    if len(fields) != 5:
        extra = "; seconds and year fields are not supported" if len(fields) in (6, 7) else ""
        raise ScheduleError(
            f"cron '{expr}' has {len(fields)} fields; expected {_CRON_SHAPE}{extra}"
        )
    for name, field in zip(_CRON_FIELD_NAMES, fields, strict=True):
        if any(_HASHED_FIELD.match(part) for part in field.split(",")):
            raise ScheduleError(f"cron '{expr}': {name} field '{field}' uses H/R, not supported")
    return text


def _compile_cron(text: str, original: str) -> croniter:
    from croniter import CroniterBadDateError, croniter

    try:
        compiled = croniter(text, _CRON_PROBE_START)
    except (ValueError, KeyError, TypeError):
        raise ScheduleError(_bad_cron_field_message(text, original)) from None
    try:
        compiled.get_next(datetime, start_time=_CRON_PROBE_START)
    except CroniterBadDateError:
        raise ScheduleError(f"cron '{original}' never fires: no date matches it") from None
    return compiled


def _bad_cron_field_message(text: str, original: str) -> str:
    from croniter import croniter

    fields = text.split(" ")
    for index, (name, field) in enumerate(zip(_CRON_FIELD_NAMES, fields, strict=False)):
        alone = " ".join(field if i == index else "*" for i in range(5))
        try:
            croniter(alone, _CRON_PROBE_START)
        except (ValueError, KeyError, TypeError):
            return f"cron '{original}': {name} field '{field}' is not valid"
    return f"cron '{original}' is not a valid cron expression; expected {_CRON_SHAPE}"

"""When scheduled jobs fire: parsing, time zones, next fire times and catch-up.

Pure functions only: no clock, database or event loop. Every datetime taken or
returned is timezone-aware, and every returned datetime is in UTC.

Daylight saving time (cron schedules)
-------------------------------------
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

import difflib
import os
import re
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadDateError, croniter

ScheduleKind = Literal["cron", "every", "at"]
CatchUpPolicy = Literal["skip", "once", "all"]

CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_FIELD_NAMES = ("minute", "hour", "day", "month", "weekday")
_CRON_SHAPE = "5 fields (minute hour day month weekday) or @daily/@hourly/@weekly/@monthly/…"
# H/R fields need a hash id or re-randomise on every evaluation; neither suits a fixed plan.
_HASHED_FIELD = re.compile(r"^[hr](\(|/|$)", re.IGNORECASE)
# Any start works for "does it ever fire": croniter searches 50 years ahead, which
# covers every day-of-month/weekday/leap-year combination.
_CRON_PROBE_START = datetime(2000, 1, 1)
_DURATION = re.compile(r"^(?:\s*\d{1,9}\s*[dhms])+\s*$", re.IGNORECASE)
_DURATION_PART = re.compile(r"(\d+)\s*([dhms])", re.IGNORECASE)
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_MAX_EVERY = timedelta(days=366)


class ScheduleError(ValueError):
    """A schedule a person wrote that cannot work; the message says how to fix it."""


# --- zones -------------------------------------------------------------------


def resolve_zone(name: str | None) -> ZoneInfo:
    """The zone called ``name`` (an IANA key), or the machine's own zone for None."""
    if name is None:
        return local_zone()
    key = name.strip()
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(_unknown_zone_message(key)) from None


def zone_name(zone: ZoneInfo) -> str:
    """A zone's display name; zones read from a bare file have no key."""
    return zone.key or "localtime"


def local_zone(
    environ: Mapping[str, str] | None = None,
    localtime: Path = Path("/etc/localtime"),
    timezone_file: Path = Path("/etc/timezone"),
) -> ZoneInfo:
    """The machine's zone: ``$TZ``, the /etc/localtime link, /etc/timezone, else UTC."""
    env = os.environ if environ is None else environ
    names = [env.get("TZ", "").lstrip(":")]
    if localtime.is_symlink():
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            names.append(target.rsplit("zoneinfo/", 1)[1])
    if timezone_file.is_file():
        names.append(timezone_file.read_text(errors="replace").strip())
    for name in names:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                continue
    if localtime.is_file():
        with localtime.open("rb") as handle:
            return ZoneInfo.from_file(handle, key="localtime")
    return ZoneInfo("UTC")


def _unknown_zone_message(name: str) -> str:
    zones = {zone for zone in available_timezones() if zone != "localtime"}
    by_lower = {zone.lower(): zone for zone in zones}
    wanted = name.lower().replace(" ", "_")
    if wanted in by_lower:
        suggestions = [by_lower[wanted]]
    else:
        # "Berlin" or "new_york" alone: match the city part before fuzzy matching.
        suggestions = sorted(z for z in zones if z.rsplit("/", 1)[-1].lower() == wanted)[:3]
        if not suggestions:
            close = difflib.get_close_matches(wanted, list(by_lower), n=3, cutoff=0.6)
            suggestions = [by_lower[match] for match in close]
    if not suggestions:
        return (
            f"unknown time zone '{name}'; use an IANA name like Europe/Berlin or America/New_York"
        )
    quoted = [f"'{zone}'" for zone in suggestions]
    options = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"unknown time zone '{name}'; did you mean {options}?"


def local_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """Map a naive wall time in ``zone`` to UTC under the module's DST rules."""
    if wall.tzinfo is not None:
        raise ValueError(f"expected a naive wall time, got {wall.isoformat()}")
    first = _as_utc(wall.replace(tzinfo=zone, fold=0))
    if _wall_exists(wall, zone):
        return first
    return _gap_end(wall, zone)


def _wall_exists(wall: datetime, zone: ZoneInfo) -> bool:
    round_trip = wall.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)
    return round_trip.replace(tzinfo=None) == wall.replace(fold=0)


def _gap_end(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first real instant after the gap containing the nonexistent ``wall``."""
    # PEP 495: in a gap, fold=1 applies the later offset (an instant before the jump)
    # and fold=0 the earlier one (an instant after it). Bisect whole seconds between.
    before = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    after = int(wall.replace(tzinfo=zone, fold=0).timestamp())
    after_offset = datetime.fromtimestamp(after, zone).utcoffset()
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == after_offset:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


def _as_utc(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {t.isoformat()}")
    return t.astimezone(UTC)


# --- schedules ---------------------------------------------------------------


class Schedule(ABC):
    """When a job fires. All datetimes in and out are aware; results are UTC."""

    kind: ClassVar[ScheduleKind]

    @abstractmethod
    def describe(self) -> str:
        """Human text, e.g. ``cron 0 8 * * 1-5 (Europe/Berlin)``."""

    @abstractmethod
    def next_after(self, t: datetime) -> datetime | None:
        """The first fire time strictly after ``t``; None if it never fires again."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


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
        t = _as_utc(t)
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
        if not _wall_exists(wall, self.zone):
            return first, []
        repeat = _as_utc(wall.replace(tzinfo=self.zone, fold=1))
        return first, [first, repeat] if repeat > first else [first]


class EverySchedule(Schedule):
    """Fires at ``anchor + k * interval`` for k = 1, 2, …; no drift, whatever the run time."""

    kind: ClassVar[ScheduleKind] = "every"

    def __init__(self, interval: timedelta, anchor: datetime) -> None:
        if interval < timedelta(seconds=1):
            raise ScheduleError(f"every {format_interval(interval)} is too short; minimum is 1s")
        self.interval = interval
        self.anchor = _as_utc(anchor)

    def describe(self) -> str:
        return f"every {format_interval(self.interval)}"

    def next_after(self, t: datetime) -> datetime | None:
        periods = max((_as_utc(t) - self.anchor) // self.interval + 1, 1)
        return self.anchor + periods * self.interval


class AtSchedule(Schedule):
    """Fires once at ``when``; ``zone`` only changes how it is described."""

    kind: ClassVar[ScheduleKind] = "at"

    def __init__(self, when: datetime, zone: ZoneInfo | None = None) -> None:
        self.when = _as_utc(when)
        self.zone = zone

    def describe(self) -> str:
        if self.zone is None:
            return f"at {self.when:%Y-%m-%d %H:%M:%S} UTC"
        local = self.when.astimezone(self.zone)
        return f"at {local:%Y-%m-%d %H:%M:%S} ({zone_name(self.zone)})"

    def next_after(self, t: datetime) -> datetime | None:
        return self.when if self.when > _as_utc(t) else None


# --- parsing -----------------------------------------------------------------


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
    fields = text.split(" ")
    for index, (name, field) in enumerate(zip(_CRON_FIELD_NAMES, fields, strict=False)):
        alone = " ".join(field if i == index else "*" for i in range(5))
        try:
            croniter(alone, _CRON_PROBE_START)
        except (ValueError, KeyError, TypeError):
            return f"cron '{original}': {name} field '{field}' is not valid"
    return f"cron '{original}' is not a valid cron expression; expected {_CRON_SHAPE}"


def _parse_duration(text: str) -> timedelta | None:
    """``1h30m``-style text as a timedelta, or None when it is not in that form."""
    if not _DURATION.match(text):
        return None
    parts = _DURATION_PART.findall(text)
    units = [unit.lower() for _, unit in parts]
    if len(set(units)) != len(units):
        return None
    return timedelta(seconds=sum(int(n) * _UNIT_SECONDS[u.lower()] for n, u in parts))


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
        return _as_utc(now) + delay
    try:
        when = datetime.fromisoformat(stripped)
    except ValueError:
        raise ScheduleError(bad) from None
    if when.tzinfo is None:
        return local_to_utc(when, zone)
    return when.astimezone(UTC)


def format_interval(interval: timedelta) -> str:
    """``timedelta(hours=1, minutes=30)`` as ``1h30m``."""
    remaining = int(interval.total_seconds())
    if remaining <= 0:
        return f"{interval.total_seconds():g}s"
    parts = []
    for unit, seconds in _UNIT_SECONDS.items():
        count, remaining = divmod(remaining, seconds)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


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


# --- catch-up ----------------------------------------------------------------


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
    window = head[-1] - _as_utc(last_due)
    while True:
        start = max(_as_utc(last_due), _as_utc(now) - window)
        tail = _fires_in(schedule, start, now, keep=limit, stop_when_full=False)
        if len(tail) == limit or start <= _as_utc(last_due):
            return Missed(list(tail), total_truncated=True)
        window *= 2


def _fires_in(
    schedule: Schedule, after: datetime, until: datetime, keep: int, stop_when_full: bool
) -> deque[datetime]:
    """Fire times in ``(after, until]``: the first ``keep`` or, scanning all, the last."""
    found: deque[datetime] = deque(maxlen=keep)
    cursor: datetime | None = _as_utc(after)
    end = _as_utc(until)
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

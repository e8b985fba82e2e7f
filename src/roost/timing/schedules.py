"""When a job fires: the schedule kinds. All datetimes in and out are aware; results UTC."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from typing import ClassVar, Literal
from zoneinfo import ZoneInfo

from roost.timing.errors import ScheduleError
from roost.timing.zones import as_utc, zone_name

ScheduleKind = Literal["cron", "every", "at"]
UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


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


class EverySchedule(Schedule):
    """Fires at ``anchor + k * interval`` for k = 1, 2, …; no drift, whatever the run time."""

    kind: ClassVar[ScheduleKind] = "every"

    def __init__(self, interval: timedelta, anchor: datetime) -> None:
        if interval < timedelta(seconds=1):
            raise ScheduleError(f"every {format_interval(interval)} is too short; minimum is 1s")
        self.interval = interval
        self.anchor = as_utc(anchor)

    def describe(self) -> str:
        return f"every {format_interval(self.interval)}"

    def next_after(self, t: datetime) -> datetime | None:
        periods = max((as_utc(t) - self.anchor) // self.interval + 1, 1)
        return self.anchor + periods * self.interval


class AtSchedule(Schedule):
    """Fires once at ``when``; ``zone`` only changes how it is described."""

    kind: ClassVar[ScheduleKind] = "at"

    def __init__(self, when: datetime, zone: ZoneInfo | None = None) -> None:
        self.when = as_utc(when)
        self.zone = zone

    def describe(self) -> str:
        if self.zone is None:
            return f"at {self.when:%Y-%m-%d %H:%M:%S} UTC"
        local = self.when.astimezone(self.zone)
        return f"at {local:%Y-%m-%d %H:%M:%S} ({zone_name(self.zone)})"

    def next_after(self, t: datetime) -> datetime | None:
        return self.when if self.when > as_utc(t) else None


def format_interval(interval: timedelta) -> str:
    """``timedelta(hours=1, minutes=30)`` as ``1h30m``."""
    remaining = int(interval.total_seconds())
    if remaining <= 0:
        return f"{interval.total_seconds():g}s"
    parts = []
    for unit, seconds in UNIT_SECONDS.items():
        count, remaining = divmod(remaining, seconds)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)

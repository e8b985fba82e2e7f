"""When scheduled jobs fire: parsing, time zones, next fire times and catch-up.

A thin re-export of the timing layer, which lives in smaller modules:
``zones`` (names, the machine's zone, wall time to UTC), ``schedules`` (the
schedule kinds), ``cron`` (cron expressions and their DST rules), ``parsing``
(text to schedules) and ``catch_up`` (missed fires after downtime).

Pure functions only: no clock, database or event loop. Every datetime taken or
returned is timezone-aware, and every returned datetime is in UTC.
"""

from __future__ import annotations

from roost.scheduler.catch_up import CatchUpPolicy, Missed, apply_catch_up, missed_fires
from roost.scheduler.cron import CRON_MACROS, CronSchedule, parse_cron
from roost.scheduler.errors import ScheduleError
from roost.scheduler.parsing import (
    build_schedule,
    check_one_kind,
    is_relative_at,
    parse_at,
    parse_every,
)
from roost.scheduler.schedules import (
    AtSchedule,
    EverySchedule,
    Schedule,
    ScheduleKind,
    format_interval,
)
from roost.scheduler.zones import local_to_utc, local_zone, resolve_zone, zone_name

__all__ = [
    "CRON_MACROS",
    "AtSchedule",
    "CatchUpPolicy",
    "CronSchedule",
    "EverySchedule",
    "Missed",
    "Schedule",
    "ScheduleError",
    "ScheduleKind",
    "apply_catch_up",
    "build_schedule",
    "check_one_kind",
    "format_interval",
    "is_relative_at",
    "local_to_utc",
    "local_zone",
    "missed_fires",
    "parse_at",
    "parse_cron",
    "parse_every",
    "resolve_zone",
    "zone_name",
]

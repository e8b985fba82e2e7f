"""Time, for schedules: zones, schedule kinds, cron, parsing, catch-up and clocks — a pure leaf.

Nothing here imports the rest of Roost, so the configuration can check a schedule with
the same parser the scheduler runs, without the configuration depending on the scheduler.
The modules: ``zones`` (names, the machine's zone, wall time to UTC), ``schedules`` (the
schedule kinds), ``cron`` (cron expressions and their DST rules), ``parsing`` (text to
schedules), ``catch_up`` (missed fires after downtime), ``clock`` (the system clock and a
manual one for tests) and ``errors``.

Apart from ``clock``, pure functions only: no clock, database or event loop. Every
datetime taken or returned is timezone-aware, and every returned datetime is in UTC.
The names below are re-exported lazily, so importing one module does not load the rest.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roost.timing.catch_up import CatchUpPolicy, Missed, apply_catch_up, missed_fires
    from roost.timing.clock import Clock, ManualClock, SystemClock
    from roost.timing.cron import CRON_MACROS, CronSchedule, parse_cron
    from roost.timing.errors import ScheduleError
    from roost.timing.parsing import (
        build_schedule,
        check_one_kind,
        is_relative_at,
        parse_at,
        parse_every,
    )
    from roost.timing.schedules import (
        AtSchedule,
        EverySchedule,
        Schedule,
        ScheduleKind,
        format_interval,
    )
    from roost.timing.zones import local_to_utc, local_zone, resolve_zone, zone_name

# Public name -> the module that defines it.
_HOMES = {
    "CatchUpPolicy": "catch_up",
    "Missed": "catch_up",
    "apply_catch_up": "catch_up",
    "missed_fires": "catch_up",
    "Clock": "clock",
    "ManualClock": "clock",
    "SystemClock": "clock",
    "CRON_MACROS": "cron",
    "CronSchedule": "cron",
    "parse_cron": "cron",
    "ScheduleError": "errors",
    "build_schedule": "parsing",
    "check_one_kind": "parsing",
    "is_relative_at": "parsing",
    "parse_at": "parsing",
    "parse_every": "parsing",
    "AtSchedule": "schedules",
    "EverySchedule": "schedules",
    "Schedule": "schedules",
    "ScheduleKind": "schedules",
    "format_interval": "schedules",
    "local_to_utc": "zones",
    "local_zone": "zones",
    "resolve_zone": "zones",
    "zone_name": "zones",
}

__all__ = [
    "CRON_MACROS",
    "AtSchedule",
    "CatchUpPolicy",
    "Clock",
    "CronSchedule",
    "EverySchedule",
    "ManualClock",
    "Missed",
    "Schedule",
    "ScheduleError",
    "ScheduleKind",
    "SystemClock",
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


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'roost.timing' has no attribute {name!r}")
    value = getattr(import_module(f"roost.timing.{home}"), name)
    globals()[name] = value
    return value

"""Time zones: resolving names, the machine's own zone and wall time to UTC.

Wall times that do not exist (clocks jump forward) map to the end of the gap;
wall times that occur twice (clocks fall back) map to their first occurrence.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from roost.timing.errors import ScheduleError


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
    first = as_utc(wall.replace(tzinfo=zone, fold=0))
    if wall_exists(wall, zone):
        return first
    return _gap_end(wall, zone)


def wall_exists(wall: datetime, zone: ZoneInfo) -> bool:
    """Whether the naive ``wall`` time occurs in ``zone`` (not inside a DST gap)."""
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


def as_utc(t: datetime) -> datetime:
    """``t`` in UTC; naive datetimes are refused, since their zone is a guess."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {t.isoformat()}")
    return t.astimezone(UTC)

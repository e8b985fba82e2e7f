"""Parsing, next fire times (including DST) and catch-up of the timing layer."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from roost.timing import (
    AtSchedule,
    CronSchedule,
    EverySchedule,
    Schedule,
    ScheduleError,
    apply_catch_up,
    build_schedule,
    local_zone,
    missed_fires,
    parse_at,
    parse_cron,
    parse_every,
    resolve_zone,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def fires(schedule: Schedule, start: datetime, count: int) -> list[datetime]:
    found: list[datetime] = []
    cursor = start
    for _ in range(count):
        nxt = schedule.next_after(cursor)
        assert nxt is not None
        found.append(nxt)
        cursor = nxt
    return found


def fires_until(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    found: list[datetime] = []
    cursor = schedule.next_after(start)
    while cursor is not None and cursor <= end:
        found.append(cursor)
        cursor = schedule.next_after(cursor)
    return found


# --- cron ----------------------------------------------------------------------


def test_weekday_cron_skips_the_weekend_in_local_time() -> None:
    schedule = parse_cron("0 8 * * 1-5", BERLIN)
    friday_after_brief = utc(2026, 5, 8, 7)  # 09:00 CEST on a Friday
    assert schedule.next_after(friday_after_brief) == utc(2026, 5, 11, 6)  # Monday 08:00 CEST


def test_next_after_is_strictly_after_a_fire_time() -> None:
    schedule = parse_cron("0 8 * * *", ZoneInfo("UTC"))
    assert schedule.next_after(utc(2026, 5, 8, 8)) == utc(2026, 5, 9, 8)
    assert schedule.next_after(utc(2026, 5, 8, 7, 59, 59)) == utc(2026, 5, 8, 8)


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        ("@hourly", utc(2026, 5, 8, 11)),
        ("@daily", utc(2026, 5, 9)),
        ("@midnight", utc(2026, 5, 9)),
        ("@weekly", utc(2026, 5, 10)),  # Sunday
        ("@monthly", utc(2026, 6, 1)),
        ("@yearly", utc(2027, 1, 1)),
        ("@annually", utc(2027, 1, 1)),
        ("@DAILY", utc(2026, 5, 9)),
    ],
)
def test_cron_macros(macro: str, expected: datetime) -> None:
    assert parse_cron(macro, ZoneInfo("UTC")).next_after(utc(2026, 5, 8, 10, 30)) == expected


def test_cron_describe_names_expression_and_zone() -> None:
    schedule = parse_cron("  0 8  * * 1-5 ", BERLIN)
    assert schedule.kind == "cron"
    assert schedule.describe() == "cron 0 8 * * 1-5 (Europe/Berlin)"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 8 * *", "cron '0 8 * *' has 4 fields; expected 5 fields (minute hour day month"),
        ("0 0 8 * * *", "seconds and year fields are not supported"),
        ("", "has 0 fields"),
        ("61 * * * *", "minute field '61' is not valid"),
        ("0 25 * * *", "hour field '25' is not valid"),
        ("0 8 * * funday", "weekday field 'funday' is not valid"),
        ("0 0 30 2 *", "never fires"),
        ("@reboot", "unknown cron macro '@reboot'; use one of @yearly"),
        ("H 8 * * *", "minute field 'H' uses H/R"),
    ],
)
def test_bad_cron_says_what_is_wrong(expr: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(message)):
        parse_cron(expr, BERLIN)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_cron("@daily", BERLIN).next_after(datetime(2026, 5, 8))


# --- cron across daylight-saving transitions ---------------------------------------


def test_berlin_daily_0230_runs_at_0300_on_spring_forward_day() -> None:
    schedule = parse_cron("30 2 * * *", BERLIN)
    assert fires(schedule, utc(2026, 3, 27, 12), 3) == [
        utc(2026, 3, 28, 1, 30),  # 02:30 CET
        utc(2026, 3, 29, 1, 0),  # 02:30 does not exist: 03:00 CEST, the end of the gap
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
    ]


def test_berlin_daily_0230_runs_once_on_fall_back_day() -> None:
    schedule = parse_cron("30 2 * * *", BERLIN)
    assert fires(schedule, utc(2026, 10, 24, 12), 2) == [
        utc(2026, 10, 25, 0, 30),  # first 02:30 (CEST); the second (01:30Z) is skipped
        utc(2026, 10, 26, 1, 30),
    ]


def test_fixed_hour_job_does_not_rerun_in_the_repeated_hour() -> None:
    schedule = parse_cron("30 2 * * *", BERLIN)
    during_second_pass = utc(2026, 10, 25, 1, 10)  # 02:10 CET, after the 02:30 CEST run
    assert schedule.next_after(during_second_pass) == utc(2026, 10, 26, 1, 30)


def test_berlin_hourly_across_spring_forward_fires_each_real_hour_once() -> None:
    schedule = parse_cron("0 * * * *", BERLIN)
    got = fires_until(schedule, utc(2026, 3, 28, 21, 30), utc(2026, 3, 29, 4))
    assert got == [utc(2026, 3, 28, 22) + timedelta(hours=h) for h in range(7)]


def test_berlin_hourly_across_fall_back_fires_both_passes_of_0200() -> None:
    schedule = parse_cron("0 * * * *", BERLIN)
    got = fires_until(schedule, utc(2026, 10, 24, 21, 30), utc(2026, 10, 25, 4))
    assert got == [utc(2026, 10, 24, 22) + timedelta(hours=h) for h in range(7)]
    local = [t.astimezone(BERLIN).strftime("%H:%M%z") for t in got[2:5]]
    assert local == ["02:00+0200", "02:00+0100", "03:00+0100"]


def test_hourly_from_inside_first_pass_finds_the_repeat() -> None:
    schedule = parse_cron("0 * * * *", BERLIN)
    assert schedule.next_after(utc(2026, 10, 25, 0, 10)) == utc(2026, 10, 25, 1)


def test_quarter_hourly_job_keeps_its_beat_across_the_gap() -> None:
    schedule = parse_cron("*/15 * * * *", BERLIN)
    got = fires_until(schedule, utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 20))
    assert got == [utc(2026, 3, 29, 0, 45), utc(2026, 3, 29, 1), utc(2026, 3, 29, 1, 15)]


def test_fixed_hour_matches_in_the_gap_collapse_into_one_fire() -> None:
    schedule = parse_cron("*/15 2 * * *", BERLIN)
    assert fires(schedule, utc(2026, 3, 28, 12), 2) == [
        utc(2026, 3, 29, 1),  # 02:00-02:45 do not exist: one run at 03:00 CEST
        utc(2026, 3, 30, 0),  # 02:00 CEST the next day
    ]


def test_hour_range_job_never_fires_twice_for_one_instant() -> None:
    schedule = parse_cron("0 1-4 * * *", BERLIN)
    spring = fires_until(schedule, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12))
    # 02:00 shifts to 03:00 CEST, which is also the 03:00 match: one fire, not two.
    assert spring == [utc(2026, 3, 29, 0), utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)]
    autumn = fires_until(schedule, utc(2026, 10, 24, 12), utc(2026, 10, 25, 12))
    # A fixed-hour job runs 02:00 once, in the first pass.
    assert autumn == [
        utc(2026, 10, 24, 23),
        utc(2026, 10, 25, 0),
        utc(2026, 10, 25, 2),
        utc(2026, 10, 25, 3),
    ]
    assert len(set(autumn)) == len(autumn)


def test_new_york_daily_0230_on_spring_forward_day_runs_at_0300() -> None:
    schedule = parse_cron("30 2 * * *", NEW_YORK)
    assert schedule.next_after(utc(2026, 3, 7, 12)) == utc(2026, 3, 8, 7)  # 03:00 EDT


def test_new_york_daily_0130_runs_once_on_fall_back_day() -> None:
    schedule = parse_cron("30 1 * * *", NEW_YORK)
    assert fires(schedule, utc(2026, 10, 31, 12), 2) == [
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT; 01:30 EST (06:30Z) is skipped
        utc(2026, 11, 2, 6, 30),
    ]


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK], ids=str)
@pytest.mark.parametrize("expr", ["0 * * * *", "30 * * * *"])
def test_hourly_job_is_exactly_one_hour_apart_all_year(zone: ZoneInfo, expr: str) -> None:
    schedule = parse_cron(expr, zone)
    got = fires_until(schedule, utc(2026, 1, 1), utc(2027, 1, 1))
    gaps = {later - earlier for earlier, later in pairwise(got)}
    assert gaps == {timedelta(hours=1)}
    assert len(got) == 365 * 24


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        (BERLIN, utc(2026, 3, 28, 12)),
        (BERLIN, utc(2026, 10, 24, 12)),
        (NEW_YORK, utc(2026, 3, 7, 12)),
        (NEW_YORK, utc(2026, 10, 31, 12)),
    ],
    ids=["berlin-spring", "berlin-autumn", "new-york-spring", "new-york-autumn"],
)
def test_minutely_steps_keep_their_beat_over_transitions(zone: ZoneInfo, day: datetime) -> None:
    schedule = parse_cron("*/5 * * * *", zone)
    got = fires_until(schedule, day, day + timedelta(days=1))
    assert {later - earlier for earlier, later in pairwise(got)} == {timedelta(minutes=5)}
    assert len(got) == 24 * 12


# --- every ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 1h 30M ", timedelta(hours=1, minutes=30)),
        ("1s", timedelta(seconds=1)),
    ],
)
def test_parse_every(text: str, expected: timedelta) -> None:
    assert parse_every(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("15x", "every '15x': use a number with s, m, h or d, e.g. 15m or 1h30m"),
        ("", "use a number with s, m, h or d"),
        ("1.5h", "use a number with s, m, h or d"),
        ("1h1h", "use a number with s, m, h or d"),
        ("-5m", "use a number with s, m, h or d"),
        ("0s", "too short; the minimum is 1s"),
        ("400d", "longer than a year"),
    ],
)
def test_bad_every_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(message)):
        parse_every(text)


def test_every_fires_on_the_anchor_grid_without_drift() -> None:
    anchor = utc(2026, 5, 8, 10, 0, 7)
    schedule = EverySchedule(timedelta(minutes=15), anchor)
    assert schedule.next_after(anchor) == anchor + timedelta(minutes=15)
    # A late check (the run took 7 minutes) still lands back on the grid.
    late = anchor + timedelta(minutes=15 + 7)
    assert schedule.next_after(late) == anchor + timedelta(minutes=30)
    assert fires(schedule, anchor, 1000)[-1] == anchor + 1000 * timedelta(minutes=15)


def test_every_before_its_anchor_waits_a_full_interval() -> None:
    anchor = utc(2026, 5, 8, 10)
    schedule = EverySchedule(timedelta(hours=1), anchor)
    assert schedule.next_after(anchor - timedelta(days=3)) == utc(2026, 5, 8, 11)


def test_every_describe_and_minimum() -> None:
    assert EverySchedule(timedelta(minutes=90), utc(2026, 1, 1)).describe() == "every 1h30m"
    with pytest.raises(ScheduleError, match="too short"):
        EverySchedule(timedelta(milliseconds=500), utc(2026, 1, 1))


# --- at ------------------------------------------------------------------------

NOW = utc(2026, 5, 8, 10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T09:00", utc(2026, 12, 1, 8)),  # naive: Berlin winter time
        ("2026-07-01 09:00", utc(2026, 7, 1, 7)),  # naive: Berlin summer time
        ("2026-12-01T09:00+05:00", utc(2026, 12, 1, 4)),
        ("2026-12-01T09:00Z", utc(2026, 12, 1, 9)),
        ("2026-03-29T02:30", utc(2026, 3, 29, 1)),  # in the gap: shifted to 03:00 CEST
        ("2026-10-25T02:30", utc(2026, 10, 25, 0, 30)),  # repeated: the first occurrence
        ("in 2h", NOW + timedelta(hours=2)),
        ("in 30m", NOW + timedelta(minutes=30)),
        ("In 1d 2h", NOW + timedelta(days=1, hours=2)),
    ],
)
def test_parse_at(text: str, expected: datetime) -> None:
    assert parse_at(text, BERLIN, NOW) == expected


@pytest.mark.parametrize("text", ["tomorrow", "in soon", "in 0m", "", "2026-13-01T09:00"])
def test_bad_at_says_what_is_expected(text: str) -> None:
    message = f"at '{text}' is not a timestamp: use 2026-12-01T09:00 or 'in 2h'"
    with pytest.raises(ScheduleError) as caught:
        parse_at(text, BERLIN, NOW)
    assert str(caught.value) == message


def test_at_fires_once_and_never_in_the_past() -> None:
    schedule = AtSchedule(utc(2026, 12, 1, 8), BERLIN)
    assert schedule.next_after(NOW) == utc(2026, 12, 1, 8)
    assert schedule.next_after(utc(2026, 12, 1, 8)) is None
    assert schedule.next_after(utc(2027, 1, 1)) is None
    assert schedule.describe() == "at 2026-12-01 09:00:00 (Europe/Berlin)"


# --- build_schedule ------------------------------------------------------------


def test_build_schedule_makes_each_kind() -> None:
    cron = build_schedule(cron="@daily", every=None, at=None, zone=BERLIN, now=NOW)
    every = build_schedule(cron=None, every="1h", at=None, zone=BERLIN, now=NOW)
    at = build_schedule(cron=None, every=None, at="in 1h", zone=BERLIN, now=NOW)
    assert isinstance(cron, CronSchedule)
    assert isinstance(every, EverySchedule)
    assert isinstance(at, AtSchedule)
    assert every.next_after(NOW) == NOW + timedelta(hours=1)
    assert at.next_after(NOW) == NOW + timedelta(hours=1)


def test_build_schedule_anchors_every_at_creation_time() -> None:
    created = NOW - timedelta(minutes=20)
    every = build_schedule(cron=None, every="15m", at=None, zone=BERLIN, now=NOW, anchor=created)
    assert every.next_after(NOW) == created + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("keys", "got"),
    [({}, "none of them"), ({"cron": "@daily", "every": "1h"}, "cron and every")],
)
def test_build_schedule_needs_exactly_one_kind(keys: dict[str, str], got: str) -> None:
    given: dict[str, Any] = {"cron": None, "every": None, "at": None, **keys}
    with pytest.raises(ScheduleError, match=f"exactly one of cron, every or at; got {got}"):
        build_schedule(**given, zone=BERLIN, now=NOW)


# --- zones ---------------------------------------------------------------------


def test_resolve_zone_by_name() -> None:
    assert resolve_zone("America/New_York") == NEW_YORK


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Europe/Berln", "unknown time zone 'Europe/Berln'; did you mean 'Europe/Berlin'"),
        ("europe/berlin", "did you mean 'Europe/Berlin'?"),
        ("Berlin", "did you mean 'Europe/Berlin'?"),
        ("Nowhere", "use an IANA name like Europe/Berlin"),
        ("Europe", "unknown time zone 'Europe'"),
        ("../etc/passwd", "unknown time zone"),
    ],
)
def test_unknown_zone_suggests_a_name(name: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(message)):
        resolve_zone(name)


def test_local_zone_prefers_tz_variable(tmp_path: Path) -> None:
    zone = local_zone({"TZ": ":Asia/Tokyo"}, tmp_path / "none", tmp_path / "none")
    assert zone.key == "Asia/Tokyo"


def test_local_zone_reads_the_localtime_link(tmp_path: Path) -> None:
    target = tmp_path / "usr/share/zoneinfo/Europe/Berlin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"")
    link = tmp_path / "localtime"
    os.symlink(target, link)
    assert local_zone({}, link, tmp_path / "none").key == "Europe/Berlin"


def test_local_zone_reads_etc_timezone_then_falls_back_to_utc(tmp_path: Path) -> None:
    timezone_file = tmp_path / "timezone"
    timezone_file.write_text("America/New_York\n")
    assert local_zone({}, tmp_path / "none", timezone_file).key == "America/New_York"
    assert local_zone({"TZ": "Bogus/Zone"}, tmp_path / "none", tmp_path / "none").key == "UTC"


def test_resolve_zone_none_uses_the_machine_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    assert resolve_zone(None).key == "Pacific/Auckland"


# --- catch-up ------------------------------------------------------------------


def test_missed_fires_are_the_ones_after_last_due_up_to_now() -> None:
    schedule = EverySchedule(timedelta(hours=1), utc(2026, 5, 8))
    missed = missed_fires(schedule, last_due=utc(2026, 5, 8, 1), now=utc(2026, 5, 8, 4), limit=10)
    assert missed.times == [utc(2026, 5, 8, 2), utc(2026, 5, 8, 3), utc(2026, 5, 8, 4)]
    assert not missed.total_truncated


def test_missed_fires_keeps_the_most_recent_when_over_the_limit() -> None:
    schedule = parse_cron("* * * * *", ZoneInfo("UTC"))
    now = utc(2026, 5, 18, 12)
    missed = missed_fires(schedule, last_due=utc(2026, 5, 8), now=now, limit=50)
    assert missed.total_truncated
    assert missed.times == [now - timedelta(minutes=49 - i) for i in range(50)]


def test_missed_fires_finds_the_latest_burst_of_a_sparse_schedule() -> None:
    schedule = parse_cron("* 8 * * *", ZoneInfo("UTC"))  # 60 fires a day, all in 08:xx
    missed = missed_fires(schedule, utc(2026, 1, 1), utc(2026, 3, 1, 15), limit=50)
    assert missed.total_truncated
    assert missed.times[0] == utc(2026, 3, 1, 8, 10)
    assert missed.times[-1] == utc(2026, 3, 1, 8, 59)


def test_missed_fires_of_a_one_shot_and_of_no_downtime() -> None:
    at = AtSchedule(utc(2026, 5, 8, 3))
    assert missed_fires(at, utc(2026, 5, 8), utc(2026, 5, 9), limit=5).times == [utc(2026, 5, 8, 3)]
    assert missed_fires(at, utc(2026, 5, 9), utc(2026, 5, 8), limit=5).times == []
    with pytest.raises(ValueError, match="limit"):
        missed_fires(at, utc(2026, 5, 8), utc(2026, 5, 9), limit=0)


MISSED = [utc(2026, 5, 8, hour) for hour in range(1, 6)]


def test_catch_up_skip_runs_nothing() -> None:
    assert apply_catch_up("skip", MISSED) == ([], MISSED)


def test_catch_up_once_runs_only_the_latest() -> None:
    assert apply_catch_up("once", list(reversed(MISSED))) == ([MISSED[-1]], MISSED[:-1])


def test_catch_up_all_runs_everything_within_the_bound() -> None:
    assert apply_catch_up("all", MISSED) == (MISSED, [])
    assert apply_catch_up("all", MISSED, max_all=2) == (MISSED[-2:], MISSED[:-2])


@pytest.mark.parametrize("policy", ["skip", "once", "all"])
def test_catch_up_with_nothing_missed(policy: str) -> None:
    assert apply_catch_up(policy, []) == ([], [])  # type: ignore[arg-type]


def test_catch_up_bound_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_all"):
        apply_catch_up("all", MISSED, max_all=0)

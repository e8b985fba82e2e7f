"""ScheduleConfig accepts the documented shapes and names the key of each mistake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from roost.config.schedules import ScheduleConfig
from roost.timing import AtSchedule, CronSchedule, EverySchedule

EXAMPLE = """
cron: "0 8 * * 1-5"
timezone: Europe/Berlin
agent: assistant
prompt: "Brief me on today's calendar and open issues."
session: isolated
deliver: [telegram:123456789]
catch_up: once
overlap: skip
model: claude/claude-sonnet-4-5
timeout_s: 600
enabled: true
"""
NOW = datetime(2026, 5, 8, 10, tzinfo=UTC)


def minimal(**changes: Any) -> dict[str, Any]:
    """A valid entry with ``changes`` applied; a change to None removes the key."""
    base: dict[str, Any] = {"every": "15m", "agent": "assistant", "prompt": "Check the inbox."}
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def problem(data: dict[str, Any]) -> tuple[tuple[str | int, ...], str]:
    """The single validation error's location and message."""
    with pytest.raises(ValidationError) as caught:
        ScheduleConfig.model_validate(data)
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return tuple(errors[0]["loc"]), errors[0]["msg"]


def test_the_documented_example_loads() -> None:
    config = ScheduleConfig.model_validate(yaml.safe_load(EXAMPLE))
    assert config.deliver == ["telegram:123456789"]
    assert config.zone().key == "Europe/Berlin"
    schedule = config.build_schedule(NOW)
    assert isinstance(schedule, CronSchedule)
    assert schedule.describe() == "cron 0 8 * * 1-5 (Europe/Berlin)"


def test_defaults() -> None:
    config = ScheduleConfig.model_validate(minimal())
    assert (config.session, config.deliver, config.catch_up, config.overlap) == (
        "isolated",
        [],
        "once",
        "skip",
    )
    assert (config.model, config.timeout_s, config.enabled, config.timezone) == (
        None,
        600.0,
        True,
        None,
    )


def test_every_and_at_build_their_schedules() -> None:
    created = NOW - timedelta(minutes=5)
    every = ScheduleConfig.model_validate(minimal()).build_schedule(NOW, anchor=created)
    assert isinstance(every, EverySchedule)
    assert every.next_after(NOW) == created + timedelta(minutes=15)

    at_config = minimal(every=None, at="2026-12-01T09:00", timezone="Europe/Berlin")
    at = ScheduleConfig.model_validate(at_config).build_schedule(NOW)
    assert isinstance(at, AtSchedule)
    assert at.when == datetime(2026, 12, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("deliver", "expected"),
    [
        (["telegram:123456789", "telegram:-1001234", "telegram:@my_channel"], None),
        (["ws:client-7", "agent:reviewer"], None),
        ("none", []),
        (["none"], []),
        (None, []),
        ("telegram:42", ["telegram:42"]),
    ],
)
def test_deliver_forms(deliver: Any, expected: list[str] | None) -> None:
    config = ScheduleConfig.model_validate(minimal() | {"deliver": deliver})
    assert config.deliver == (deliver if expected is None else expected)


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"cron": "0 8 * *", "every": None}, "cron", "cron '0 8 * *' has 4 fields"),
        ({"every": "15x"}, "every", "every '15x': use a number with s, m, h or d"),
        ({"every": None, "at": "tomorrow"}, "at", "at 'tomorrow' is not a timestamp"),
        ({"every": None, "at": "in 2h"}, "at", "relative, which only makes sense when a job"),
        ({"timezone": "Europe/Berln"}, "timezone", "did you mean 'Europe/Berlin'"),
        ({"prompt": "  "}, "prompt", "prompt is empty"),
        ({"deliver": ["telegram:abc"]}, "deliver", "deliver[0]: 'telegram:abc' is not a delivery"),
        ({"deliver": ["email:me@x.org"]}, "deliver", "use telegram:<chat id or @name>, ws:"),
        ({"deliver": ["ws:a", "none"]}, "deliver", "deliver[1]: 'none' cannot be combined"),
        ({"model": "claude-sonnet"}, "model", "should be provider-name/model-id"),
        ({"timeout_s": 0}, "timeout_s", "greater than 0"),
        ({"catch_up": "twice"}, "catch_up", "'skip', 'once' or 'all'"),
        ({"overlap": "parallel"}, "overlap", "'skip' or 'queue'"),
        ({"agent": ""}, "agent", "at least 1 character"),
        ({"sesion": "x"}, "sesion", "Extra inputs are not permitted"),
    ],
)
def test_each_bad_key_is_reported_on_that_key(
    changes: dict[str, Any], key: str, message: str
) -> None:
    loc, msg = problem(minimal(**changes))
    assert loc == (key,)
    assert message in msg


@pytest.mark.parametrize(
    ("changes", "got"),
    [({"every": None}, "got none of them"), ({"cron": "@daily"}, "got cron and every")],
)
def test_exactly_one_of_cron_every_at(changes: dict[str, Any], got: str) -> None:
    loc, msg = problem(minimal(**changes))
    assert loc == ()
    assert f"exactly one of cron, every or at; {got}" in msg


def test_missing_required_keys_are_named() -> None:
    with pytest.raises(ValidationError) as caught:
        ScheduleConfig.model_validate({"every": "1h"})
    assert {error["loc"] for error in caught.value.errors()} == {("agent",), ("prompt",)}

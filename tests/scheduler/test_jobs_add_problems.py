"""`roost jobs add` reports every problem of one input together, not one per attempt."""

from __future__ import annotations

from pathlib import Path

from tests.scheduler.test_jobs_cli import config, roost

__all__ = ["config"]  # the fixture, used by name


def test_all_problems_of_one_job_are_reported_together(config: Path) -> None:
    bad = roost(
        "jobs", "add", "standup", "--cron", "0 9 * *", "-a", "nobody", "-p", "x",
        "--timezone", "Mars/Olympus", "-d", "pigeon:1",
    )  # fmt: skip
    assert bad.returncode == 1
    message = bad.stderr
    assert "unknown agent 'nobody' (known: assistant)" in message
    assert "cron '0 9 * *'" in message
    assert "Mars/Olympus" in message
    assert "pigeon:1" in message
    assert message.startswith("roost: 4 problems:\n  - unknown agent")
    assert message.count("roost:") == 1


def test_a_bad_relative_time_is_reported_once_with_the_rest(config: Path) -> None:
    bad = roost("jobs", "add", "later", "--at", "in soon", "-a", "nobody", "-p", "x")
    assert bad.returncode == 1
    assert "unknown agent 'nobody'" in bad.stderr
    assert bad.stderr.count("at 'in soon' is not a timestamp") == 1

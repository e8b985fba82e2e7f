"""`roost status`: from the running process, or from the store when it is down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ops.conftest import roost
from tests.support.roost_run import RoostRun

REPORT_KEYS = {"version", "home", "running", "pid", "since", "agents", "components", "store"}
STORE_KEYS = {
    "state",
    "url",
    "turns_today",
    "spend_today_usd",
    "inbox_waiting",
    "outbox_pending",
    "jobs_next_due",
}


def test_stopped_status_says_not_running_and_reads_the_store(config: Path, home: Path) -> None:
    empty = roost("status", "--json")
    assert empty.returncode == 0, empty.stderr
    assert json.loads(empty.stdout)["store"] == {"state": "empty (no database yet)"}
    assert not (home / "roost.db").exists()  # asking did not create it

    asked = roost("ask", "assistant", "hi")
    assert asked.returncode == 0, asked.stderr
    result = roost("status", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report.keys() >= REPORT_KEYS and report["running"] is False and report["pid"] is None
    assert set(report["agents"]) == {"assistant", "coder"}
    store = report["store"]
    assert store.keys() >= STORE_KEYS
    assert store["turns_today"] == 1 and store["spend_today_usd"] > 0
    assert store["inbox_waiting"] == 0 and store["outbox_pending"] == 0
    assert "test-key" not in result.stdout

    text = roost("status")
    assert text.returncode == 0
    assert "not running" in text.stdout and "today: 1 turn(s)" in text.stdout


@pytest.fixture
def config(config: Path) -> Path:
    """With a job on a yearly clock: never due during the test, always listed as next."""
    with config.open("a") as file:
        file.write(
            "schedules:\n"
            "  new-year: {cron: '0 0 1 1 *', timezone: UTC, agent: assistant, prompt: hi}\n"
        )
    return config


def test_running_status_comes_from_the_process(config: Path, running: RoostRun) -> None:
    result = roost("status", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["running"] is True and report["pid"] == running.pid
    assert report["since"] and report["uptime_s"] >= 0
    assert report["agents"]["assistant"] == {
        "model": "claude/claude-haiku-4-5",
        "busy_sessions": 0,
        "queued": 0,
    }
    assert report["components"]["gateway"]["state"] == "ok"
    assert "scheduler" in report["components"]
    assert report["store"]["state"] == "ok" and report["store"]["turns_today"] == 0
    assert report["version"]
    [job] = report["store"]["jobs_next_due"]
    assert job["name"] == "new-year" and job["agent"] == "assistant"
    assert job["next_due"].endswith("-01-01T00:00:00Z")
    text = roost("status")
    assert "running since" in text.stdout and f"(pid {running.pid}, http://" in text.stdout


def test_status_with_a_bad_config_exits_2_without_a_traceback(write_config: object) -> None:
    Path("roost.yaml").write_text("agents: [not a mapping]\n")
    result = roost("status")
    assert result.returncode == 2 and "Traceback" not in result.stderr

"""`roost jobs` as a user runs it without `roost run`: real processes on the store."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM
from tests.support.roost_run import ROOST


def roost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ROOST, *args], capture_output=True, text=True, env=dict(os.environ), timeout=60
    )


@pytest.fixture
def config(fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path) -> Path:
    return write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
agents:
  assistant: {{model: claude/claude-haiku-4-5}}
schedules:
  brief: {{cron: "0 8 * * 1-5", timezone: Europe/Berlin, agent: assistant, prompt: brief,
          deliver: "telegram:1"}}
"""
    )


def test_jobs_are_managed_offline_with_clear_errors(config: Path) -> None:
    added = roost(
        "jobs", "add", "ping", "--every", "15m", "-a", "assistant", "-p", "ping?",
        "-d", "telegram:2", "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    job = json.loads(added.stdout)["job"]
    assert (job["schedule"], job["owner"], job["deliver"]) == ("every 15m", "cli", ["telegram:2"])

    listed = roost("jobs", "list")
    assert listed.returncode == 0, listed.stderr
    assert "brief" in listed.stdout and "ping" in listed.stdout and "config" in listed.stdout

    bad = roost("jobs", "add", "x", "--cron", "61 * * * *", "-a", "assistant", "-p", "x")
    assert bad.returncode == 1
    assert bad.stderr.strip() == "roost: cron '61 * * * *': minute field '61' is not valid"
    ghost = roost("jobs", "runs", "ghost")
    assert ghost.returncode == 1 and "no job named 'ghost'" in ghost.stderr
    config_job = roost("jobs", "remove", "brief")
    assert config_job.returncode == 1 and "defined in the config file" in config_job.stderr

    paused = roost("jobs", "pause", "ping", "--json")
    assert json.loads(paused.stdout)["job"]["state"] == "paused"
    assert roost("jobs", "remove", "ping").stdout.startswith("removed job ping (paused)")


def test_run_now_offline_records_the_run_and_leaves_deliveries_for_roost_run(
    config: Path, fake_llm: FakeLLM
) -> None:
    fake_llm.reply("Here is your brief.")
    ran = roost("jobs", "run", "brief")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("run 1 of job brief: ok (")
    assert "telegram:1 pending" in ran.stdout  # no channel here: it waits in the outbox
    history = roost("jobs", "runs", "brief", "--json")
    [run] = json.loads(history.stdout)["runs"]
    assert run["status"] == "ok" and run["output_tokens"] > 0
    [delivery] = run["deliveries"]
    assert (delivery["target"], delivery["status"]) == ("telegram:1", "pending")


NO_TARGET = "roost: no deliver target: the answer is only kept in the run history; see it with"


def test_a_job_without_a_deliver_target_is_added_with_a_warning(config: Path) -> None:
    quiet = roost("jobs", "add", "ping", "--every", "1h", "-a", "assistant", "-p", "ping?")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr.strip() == f"{NO_TARGET} roost jobs runs ping"
    assert quiet.stdout.startswith("added job ping: every 1h")
    delivered = roost(
        "jobs", "add", "pong", "--every", "1h", "-a", "assistant", "-p", "p", "-d", "telegram:2"
    )
    assert delivered.returncode == 0 and delivered.stderr == "", delivered.stderr


LONG_ANSWER = "First line of the standup.\n" + "Second line, " * 10 + "end."


def test_the_answer_is_shown_by_jobs_run_and_jobs_runs(config: Path, fake_llm: FakeLLM) -> None:
    roost("jobs", "add", "standup", "--every", "1h", "-a", "assistant", "-p", "Plan my day")
    fake_llm.reply(LONG_ANSWER)
    ran = roost("jobs", "run", "standup")
    assert ran.returncode == 0, ran.stderr
    first, *answer = ran.stdout.splitlines()
    assert first.startswith("run 1 of job standup: ok (")
    assert "\n".join(answer) == LONG_ANSWER
    listed = roost("jobs", "runs", "standup")
    assert listed.returncode == 0, listed.stderr
    assert "run 1: First line of the standup. Second line, Second line," in listed.stdout
    assert "end." not in listed.stdout
    assert "whole answers: roost jobs runs standup --full" in listed.stdout
    full = roost("jobs", "runs", "standup", "--full")
    assert LONG_ANSWER in full.stdout
    [run] = json.loads(roost("jobs", "runs", "standup", "--json").stdout)["runs"]
    assert run["answer"] == LONG_ANSWER


def test_jobs_run_through_the_gateway_prints_the_answer(
    config: Path, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    from tests.support.roost_run import running_roost

    with open(config, "a", encoding="utf-8") as handle:
        handle.write("gateway: {port: 0}\n")
    with running_roost(tmp_path / "home"):
        fake_llm.reply("Answered in roost run.")
        ran = roost("jobs", "run", "brief")
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.splitlines()[-1] == "Answered in roost run."
        [run] = json.loads(roost("jobs", "runs", "brief", "--json").stdout)["runs"]
        assert run["answer"] == "Answered in roost run."

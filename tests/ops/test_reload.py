"""Config reload without a restart: `roost reload` and SIGHUP change an agent's prompt
for its next turn; what needs a restart is named; a bad config is refused."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM
from tests.ops.conftest import roost, wait_for
from tests.support.roost_run import RoostRun


def _config_text(fake_llm: FakeLLM, home: Path, prompt: str, extra: str = "") -> str:
    return (
        provider_yaml(fake_llm)
        + f"""home: {home}
gateway: {{port: 0}}
agents:
  assistant: {{model: claude/claude-haiku-4-5, system: "{prompt}"}}
{extra}"""
    )


@pytest.fixture
def config(fake_llm: FakeLLM, write_config: ConfigWriter, home: Path) -> Path:
    return write_config(_config_text(fake_llm, home, "PROMPT-ONE"))


def _prompt_of_next_turn(fake_llm: FakeLLM) -> str:
    asked = roost("ask", "assistant", "hi")
    assert asked.returncode == 0, asked.stderr
    return json.dumps(fake_llm.last_request.body)


def test_roost_reload_changes_the_prompt_and_names_what_needs_a_restart(
    config: Path, home: Path, fake_llm: FakeLLM, running: RoostRun
) -> None:
    assert "PROMPT-ONE" in _prompt_of_next_turn(fake_llm)
    config.write_text(_config_text(fake_llm, home, "PROMPT-TWO", "max_concurrent_turns: 5\n"))
    result = roost("reload", "--json")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["ok"] is True and outcome["applied"] == ["agents.assistant.system"]
    assert outcome["needs_restart"] == ["max_concurrent_turns"]
    body = _prompt_of_next_turn(fake_llm)
    assert "PROMPT-TWO" in body and "PROMPT-ONE" not in body
    text = roost("reload")  # nothing new to apply, the restart still wanted
    assert "nothing (no change)" in text.stdout and "max_concurrent_turns" in text.stdout


def test_sighup_reloads_and_a_bad_config_is_refused(
    config: Path, home: Path, fake_llm: FakeLLM, running: RoostRun
) -> None:
    outcome_file = home / "reload.json"
    config.write_text(_config_text(fake_llm, home, "PROMPT-THREE"))
    running.process.send_signal(signal.SIGHUP)
    wait_for(outcome_file.exists, "the reload's outcome")
    assert json.loads(outcome_file.read_text())["applied"] == ["agents.assistant.system"]
    assert "PROMPT-THREE" in _prompt_of_next_turn(fake_llm)

    config.write_text(_config_text(fake_llm, home, "PROMPT-BAD", "unknown_key: 1\n"))
    refused = roost("reload")
    assert refused.returncode == 2 and "unknown_key" in refused.stderr
    before = outcome_file.read_text()
    running.process.send_signal(signal.SIGHUP)  # the process checks too
    wait_for(lambda: outcome_file.read_text() != before, "the refusal")
    outcome = json.loads(outcome_file.read_text())
    assert outcome["ok"] is False and "unknown_key" in outcome["error"]
    assert running.process.poll() is None
    assert "PROMPT-THREE" in _prompt_of_next_turn(fake_llm)
    logged = roost("logs", "--level", "error").stdout
    assert "config reload refused" in logged


def test_roost_reload_applies_schedules_and_leaves_run_time_jobs_alone(
    config: Path, home: Path, fake_llm: FakeLLM, running: RoostRun
) -> None:
    ping = "  ping: {every: 1h, agent: assistant, prompt: ping}\n"
    report = "  report: {cron: '0 9 * * *', agent: assistant, prompt: report}\n"
    config.write_text(_config_text(fake_llm, home, "PROMPT-ONE", "schedules:\n" + ping))
    assert json.loads(roost("reload", "--json").stdout)["applied"] == ["schedules.ping (added)"]
    added = roost("jobs", "add", "mine", "--every", "2h", "-a", "assistant", "-p", "mine")
    assert added.returncode == 0, added.stderr

    config.write_text(_config_text(fake_llm, home, "PROMPT-ONE", "schedules:\n" + report))
    result = roost("reload")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "reloaded: applied schedules.report (added), schedules.ping (removed)\n"
    listed = json.loads(roost("jobs", "list", "--json").stdout)["jobs"]
    states = {job["name"]: (job["owner"], job["state"]) for job in listed}
    assert states == {
        "mine": ("cli", "active"),
        "ping": ("config", "disabled"),
        "report": ("config", "active"),
    }


def test_reload_when_not_running_says_so(config: Path) -> None:
    result = roost("reload")
    assert result.returncode == 1 and "not running" in result.stderr

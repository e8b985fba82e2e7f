"""`roost sessions` and `roost history` as a user runs them (`python -m roost`), reading
what `roost ask` stored (#10.3), with unanswered messages marked (#10.4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM


def roost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roost", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )


@pytest.fixture
def config(fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path) -> Path:
    return write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
agents:
  assistant: {{model: claude/claude-haiku-4-5}}
  coder: {{model: gpt/gpt-5-mini, tools: [write_file, read_file]}}
"""
    )


def test_sessions_lists_conversations_with_counts_and_activity(
    config: Path, fake_llm: FakeLLM
) -> None:
    assert roost("sessions").stdout == "no sessions yet\n"
    assert roost("ask", "assistant", "hello").returncode == 0
    assert roost("ask", "assistant", "note this", "--session", "notes").returncode == 0
    assert roost("ask", "assistant", "and this", "--session", "notes").returncode == 0
    assert roost("ask", "coder", "hi coder").returncode == 0
    listed = roost("sessions", "assistant")
    assert listed.returncode == 0, listed.stderr
    header, newest, older = listed.stdout.splitlines()
    assert header.split() == ["agent", "session", "messages", "last", "activity"]
    assert newest.split()[:3] == ["assistant", "notes", "4"]
    assert older.split()[:3] == ["assistant", "cli:default", "2"]
    every = json.loads(roost("sessions", "--json").stdout)["sessions"]
    assert [(s["agent"], s["session"], s["messages"]) for s in every] == [
        ("coder", "cli:default", 2),
        ("assistant", "notes", 4),
        ("assistant", "cli:default", 2),
    ]
    assert every[0]["last_activity"].endswith("+00:00")
    unknown = roost("sessions", "nobody")
    assert unknown.returncode == 1 and "unknown agent 'nobody'" in unknown.stderr


def test_history_shows_the_conversation_with_tool_calls_briefly(
    config: Path, fake_llm: FakeLLM
) -> None:
    fake_llm.tool_call("write_file", {"path": "plan.md", "content": "step 1"}, text="Writing.")
    fake_llm.reply("Saved your plan.")
    assert roost("ask", "coder", "save my plan", "-s", "work").returncode == 0
    shown = roost("history", "coder", "--session", "work")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert out.startswith("coder · session work · 4 message(s)\n")
    assert "── user · " in out and "\nsave my plan\n" in out
    assert '  → write_file({"path": "plan.md", "content": "step 1"})' in out
    assert "  ← write_file: " in out
    assert out.rstrip().endswith("Saved your plan.")
    data = json.loads(roost("history", "coder", "-s", "work", "--json").stdout)
    assert [m["role"] for m in data["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert data["messages"][1]["tool_calls"][0]["name"] == "write_file"
    last = roost("history", "coder", "-s", "work", "--limit", "1")
    assert "(the last 1; --limit 4 shows all)" in last.stdout and "save my plan" not in last.stdout
    missing = roost("history", "coder", "-s", "nope")
    assert missing.returncode == 1
    assert "agent coder has no session 'nope' (see: roost sessions coder)" in missing.stderr


def test_history_marks_messages_left_out_of_the_context(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    write_config(f"home: {home}\n")  # no provider
    assert roost("ask", "assistant", "anyone there?").returncode == 1
    write_config(
        provider_yaml(fake_llm) + f"home: {home}\nagents:\n  assistant: {{model: claude/m}}\n"
    )
    assert roost("ask", "assistant", "now?").returncode == 0
    shown = roost("history", "assistant")
    marked = [line for line in shown.stdout.splitlines() if "left out" in line]
    assert len(marked) == 1 and marked[0].startswith("── user · ")
    data = json.loads(roost("history", "assistant", "--json").stdout)["messages"]
    assert [(m["text"], m["in_context"]) for m in data] == [
        ("anyone there?", False),
        ("now?", True),
        ("echo: now?", True),
    ]
    assert data[0]["turn_status"] == "unconfigured"

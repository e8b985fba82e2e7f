"""`roost logs` and the log file's formats (text and `logging.format: json`)."""

from __future__ import annotations

import json
import logging
import os
import selectors
import subprocess
import time
from pathlib import Path

import pytest

from tests.ops.conftest import ROOST, roost

TEXT_LOG = """\
2026-12-01 10:00:00,001 INFO    roost.run: roost is running with 2 agent(s); press Ctrl+C to stop
2026-12-01 10:00:01,002 INFO    roost.app [assistant]: turn assistant s1 ok: 1 round(s)
2026-12-01 10:00:02,003 WARNING roost.agents.turn [coder]: the tool timed out
2026-12-01 10:00:03,004 ERROR   roost.gateway.http_api: gateway: GET /api/x failed
Traceback (most recent call last):
  File "x.py", line 1, in <module>
ValueError: boom
"""
JSON_LINE = {
    "ts": "2026-12-01T10:00:04.005+00:00",
    "level": "WARNING",
    "logger": "roost.app",
    "message": "json line",
    "agent": "assistant",
}


@pytest.fixture
def log_file(config: Path, home: Path) -> Path:
    path = home / "logs" / "roost.log"
    path.parent.mkdir(parents=True)
    path.write_text(TEXT_LOG + json.dumps(JSON_LINE) + "\n")  # a file may hold both
    return path


def test_level_agent_count_and_json_filters(log_file: Path) -> None:
    everything = roost("logs")
    assert everything.returncode == 0, everything.stderr
    assert everything.stdout.count("\n") == TEXT_LOG.count("\n") + 1

    warnings = roost("logs", "--level", "warning", "--json").stdout.splitlines()
    assert [json.loads(line)["level"] for line in warnings] == ["WARNING", "ERROR", "WARNING"]
    readable = roost("logs", "--level", "warning").stdout
    assert "turn assistant" not in readable and "ValueError: boom" in readable

    assistant = roost("logs", "--agent", "assistant", "--json").stdout.splitlines()
    entries = [json.loads(line) for line in assistant]
    assert [entry["message"] for entry in entries] == [
        "turn assistant s1 ok: 1 round(s)",
        "json line",
    ]
    assert {entry["agent"] for entry in entries} == {"assistant"}

    last = [json.loads(line) for line in roost("logs", "-n", "2", "--json").stdout.splitlines()]
    assert last[0]["level"] == "ERROR" and last[0]["exc"].endswith("ValueError: boom")
    assert last[1]["message"] == "json line"


def test_bad_level_and_missing_log_are_clear_errors(config: Path) -> None:
    missing = roost("logs")
    assert missing.returncode == 1 and "no log yet" in missing.stderr
    bad = roost("logs", "--level", "loud")
    assert bad.returncode == 2 and "--level" in bad.stderr and "Traceback" not in bad.stderr


def test_json_log_format_names_the_agent_and_keeps_secrets_out(config: Path, home: Path) -> None:
    with config.open("a") as file:
        file.write("logging: {format: json}\n")
    asked = roost("ask", "assistant", "hi", "--session", "json-log")
    assert asked.returncode == 0, asked.stderr
    raw = (home / "logs" / "roost.log").read_text()
    lines = [json.loads(line) for line in raw.splitlines()]
    assert all({"ts", "level", "logger", "message"} <= line.keys() for line in lines)
    turn = next(line for line in lines if line["message"].startswith("turn assistant json-log"))
    assert turn["agent"] == "assistant" and turn["level"] == "INFO"
    assert "test-key" not in raw
    by_agent = roost("logs", "--agent", "assistant").stdout
    assert "turn assistant json-log ok" in by_agent


def test_text_log_names_the_agent(config: Path, home: Path) -> None:
    assert roost("ask", "coder", "hi", "--session", "text-log").returncode == 0
    lines = roost("logs", "--agent", "coder", "--json").stdout.splitlines()
    assert any(json.loads(line)["message"].startswith("turn coder text-log") for line in lines)


def _read_line(process: subprocess.Popen[str], want: str, timeout_s: float = 30.0) -> str:
    """Lines of the follower's stdout up to one containing ``want`` (with a deadline)."""
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    seen = ""
    while want not in seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not selector.select(remaining):
            pytest.fail(f"{want!r} not printed within {timeout_s}s; got {seen!r}")
        line = process.stdout.readline()
        if not line:
            pytest.fail(f"roost logs -f ended; got {seen!r}")
        seen += line
    return seen


def _append(path: Path, line: str) -> None:
    with path.open("a") as file:
        file.write(line + "\n")


def test_follow_prints_new_lines_and_survives_rotation(log_file: Path) -> None:
    process = subprocess.Popen(
        [*ROOST, "logs", "-f", "-n", "1"], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        _read_line(process, "json line")
        _append(log_file, "2026-12-01 11:00:00,000 INFO    roost.run: appended once")
        _read_line(process, "appended once")
        log_file.rename(log_file.with_name("roost.log.1"))  # as RotatingFileHandler does
        log_file.write_text("2026-12-01 11:00:01,000 INFO    roost.run: in the new file\n")
        _read_line(process, "in the new file")
        _append(log_file, "2026-12-01 11:00:02,000 INFO    roost.run: and after it")
        _read_line(process, "and after it")
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_json_lines_keep_the_telegram_token_out(tmp_path: Path) -> None:
    from roost.channels.telegram.bot import hide_token_in_logs
    from roost.logs import agent_context, setup_logging

    root = logging.getLogger("roost")
    saved = list(root.handlers), root.level, root.propagate
    token = "123456:SECRET-token-value"
    try:
        setup_logging(tmp_path, "INFO", None, "json")
        hide_token_in_logs(token)
        with agent_context("assistant"):
            logging.getLogger("roost.channels.telegram").warning("calling /bot%s/getMe", token)
            try:
                raise RuntimeError(f"https://api.telegram.org/bot{token}/getMe failed")
            except RuntimeError:
                logging.getLogger("roost.channels.telegram").exception("poll failed")
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        root.propagate = saved[2]
    raw = (tmp_path / "logs" / "roost.log").read_text()
    assert token not in raw
    first, second = (json.loads(line) for line in raw.splitlines())
    assert first["message"] == "calling /bot<token>/getMe" and first["agent"] == "assistant"
    assert second["exc"].startswith("Traceback") and "<token>" in second["exc"]

"""The `roost` command as a user runs it: real processes, real files, the fake LLM."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM

ROOST = [sys.executable, "-m", "roost"]


def roost(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ROOST, *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        input=stdin,
        timeout=60,
    )


@pytest.fixture
def config(fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path) -> Path:
    return write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
agents:
  assistant: {{model: claude/claude-haiku-4-5}}
  coder: {{model: gpt/gpt-5-mini}}
"""
    )


def test_ask_continues_the_session_across_processes(config: Path, fake_llm: FakeLLM) -> None:
    fake_llm.reply("Nice to meet you, Ada.")
    first = roost("ask", "assistant", "my name is Ada", "--session", "chat-1")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "Nice to meet you, Ada.\n"
    second = roost("ask", "assistant", "what is my name?", "--session", "chat-1")
    assert second.returncode == 0 and second.stdout == "echo: what is my name?\n"
    messages = fake_llm.last_request.body["messages"]
    texts = json.dumps(messages)
    assert "my name is Ada" in texts and "Nice to meet you, Ada." in texts
    roost("ask", "assistant", "fresh start", "--session", "chat-2")
    assert "Ada" not in json.dumps(fake_llm.last_request.body["messages"])


def test_concurrent_processes_share_the_database(config: Path, fake_llm: FakeLLM) -> None:
    processes = [
        subprocess.Popen(
            [*ROOST, "ask", "coder", f"question {n}", "--session", f"parallel-{n}", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for n in range(4)
    ]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], outputs
    texts = sorted(json.loads(stdout)["text"] for stdout, _ in outputs)
    assert texts == [f"echo: question {n}" for n in range(4)]
    report = json.loads(roost("cost", "--json").stdout)
    assert report["total"]["by_agent"]["coder"]["calls"] == 4


def test_each_turn_is_one_readable_log_line(config: Path, tmp_path: Path) -> None:
    quiet = roost("ask", "assistant", "hi", "--session", "logged")
    assert quiet.returncode == 0 and quiet.stderr == ""
    loud = roost("--verbose", "ask", "assistant", "hi again", "--session", "logged")
    assert "turn assistant logged ok: 1 round(s)" in loud.stderr
    assert stat.S_IMODE((tmp_path / "home").stat().st_mode) == 0o700  # conversations are private
    lines = (tmp_path / "home" / "logs" / "roost.log").read_text().splitlines()
    turns = [line for line in lines if "turn assistant logged ok" in line]
    assert len(turns) == 2
    assert "in /" in turns[0] and "out tokens" in turns[0] and "$" in turns[0]


def test_ask_json_reports_usage_and_cost_and_cost_command_agrees(
    config: Path, fake_llm: FakeLLM
) -> None:
    from tests.fakes.llm_server import FakeUsage

    fake_llm.reply("four", usage=FakeUsage(1000, 10))
    result = roost("ask", "coder", "2+2?", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["status"] == "ok" and answer["text"] == "four"
    assert answer["usage"]["input_tokens"] == 1000 and answer["usage"]["output_tokens"] == 10
    assert answer["cost_usd"] == pytest.approx((1000 * 0.25 + 10 * 2.0) / 1e6)
    report = json.loads(roost("cost", "--json").stdout)
    for period in ("today", "total"):
        assert report[period]["totals"]["calls"] == 1
        assert report[period]["by_agent"]["coder"]["cost_usd"] == pytest.approx(answer["cost_usd"])
        assert report[period]["by_model"]["gpt/gpt-5-mini"]["input_tokens"] == 1000
    table = roost("cost").stdout
    assert "agent coder" in table and "0.0003" in table


def test_ask_reads_the_message_from_stdin(config: Path, fake_llm: FakeLLM) -> None:
    result = roost("ask", "assistant", "-", stdin="from a pipe\n")
    assert result.returncode == 0 and result.stdout == "echo: from a pipe\n"


def test_ask_failures_exit_non_zero_without_a_traceback(config: Path, fake_llm: FakeLLM) -> None:
    fake_llm.fail(401, "invalid x-api-key", times=1)
    result = roost("ask", "assistant", "hi")
    assert result.returncode == 1
    assert "HTTP 401" in result.stderr and "Traceback" not in result.stderr
    unknown = roost("ask", "nobody", "hi")
    assert unknown.returncode == 1 and "unknown agent 'nobody'" in unknown.stderr
    empty = roost("ask", "assistant", "  ")
    assert empty.returncode == 1 and "empty" in empty.stderr


def test_ctrl_c_interrupts_the_turn_at_once_and_records_it(
    config: Path, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.delay(30)
    process = subprocess.Popen(
        [*ROOST, "ask", "assistant", "take your time"],
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        fake_llm.wait_for_requests(1, timeout=30)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 130
        assert time.monotonic() - started < 10
        assert process.stderr is not None
        stderr = process.stderr.read()
        assert "interrupted" in stderr and "Traceback" not in stderr
    finally:
        if process.poll() is None:
            process.kill()
    database = sqlite3.connect(tmp_path / "home" / "roost.db")
    try:
        statuses = [row[0] for row in database.execute("SELECT status FROM turns")]
    finally:
        database.close()
    assert statuses == ["interrupted"]


def test_no_provider_gets_one_clear_sentence(tmp_path: Path) -> None:
    env = {**os.environ, "ROOST_HOME": str(tmp_path / "h")}
    result = roost("ask", "assistant", "hello", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("No model provider is configured")
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_bad_config_exits_2_naming_file_and_key(write_config: ConfigWriter) -> None:
    path = write_config(
        "providers: {claude: {type: anthropic}}\nagents: {assistant: {model: claud/x}}\n"
    )
    for command in (["ask", "assistant", "hi"], ["agents"], ["cost"], ["run"]):
        result = roost(*command)
        assert result.returncode == 2, command
        assert str(path) in result.stderr
        assert "agents.assistant.model: unknown provider 'claud'" in result.stderr
        assert "Traceback" not in result.stderr


def test_unusable_paths_are_explained(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    path = write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
agents:
  assistant: {{model: claude/claude-haiku-4-5, workspace: {blocker / "ws"}}}
"""
    )
    result = roost("ask", "assistant", "hi")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{path}: agents.assistant.workspace: cannot create {blocker / 'ws'}" in result.stderr
    env = {**os.environ, "ROOST_HOME": str(blocker / "home")}
    result = roost("ask", "assistant", "hi", env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"cannot write to the data directory {blocker / 'home'}" in result.stderr


def test_init_writes_the_starter_file_once(tmp_path: Path) -> None:
    result = roost("init")
    assert result.returncode == 0 and "wrote roost.yaml" in result.stdout
    written = (tmp_path / "roost.yaml").read_text()
    example = Path(__file__).parent.parent / "roost.example.yaml"
    assert written == example.read_text(), "keep roost.example.yaml and the packaged starter equal"
    again = roost("init")
    assert again.returncode == 1 and "already exists" in again.stderr
    env = {**os.environ, "ANTHROPIC_API_KEY": "sk-test"}
    agents = json.loads(roost("agents", "--json", env=env).stdout)
    assert agents["agents"][0]["name"] == "assistant"
    assert agents["agents"][0]["model"] == "claude/claude-haiku-4-5"


def test_agents_lists_models_and_tools(config: Path) -> None:
    listing = json.loads(roost("agents", "--json").stdout)["agents"]
    assert [(a["name"], a["model"]) for a in listing] == [
        ("assistant", "claude/claude-haiku-4-5"),
        ("coder", "gpt/gpt-5-mini"),
    ]
    assert listing[0]["tools"] == ["read_file", "write_file", "list_files"]
    assert "assistant" in roost("agents").stdout


def test_run_starts_logs_and_stops_cleanly_on_sigterm(config: Path, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*ROOST, "run"], stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        assert process.stderr is not None
        seen = ""
        deadline = time.monotonic() + 30
        while "roost is running" not in seen and time.monotonic() < deadline:
            seen += process.stderr.readline()
        assert "roost is running with 2 agent(s)" in seen
        assert "agent assistant: claude/claude-haiku-4-5" in seen
        second = roost("run")
        assert second.returncode == 1 and "already running" in second.stderr
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        rest = process.stderr.read()
        assert "stopped" in rest and "Traceback" not in rest
    finally:
        if process.poll() is None:
            process.kill()
    log = (tmp_path / "home" / "logs" / "roost.log").read_text()
    assert "roost is running" in log and not (tmp_path / "home" / "roost.pid").exists()


def test_version_and_help() -> None:
    from roost import __version__

    version = roost("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"roost {__version__}"
    overview = roost("--help").stdout
    for command in ("run", "ask", "init", "agents", "cost"):
        assert command in overview
    assert (
        'roost ask assistant "What files are in your workspace?"' in roost("ask", "--help").stdout
    )


async def test_terminal_printer_streams_text_and_shows_tools(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from roost.cli.ask_cmd import TerminalPrinter
    from roost.providers.base import ToolCall
    from roost.tools.registry import ToolOutcome

    printer = TerminalPrinter()
    call = ToolCall("c1", "write_file", '{"path": "plan.md", "content": "step 1"}')
    await printer.on_text("Writing")
    await printer.on_text(" it.")
    await printer.on_tool_start(call)
    await printer.on_tool_end(call, ToolOutcome("'x' does not exist", True))
    await printer.on_text("Done.")
    out, err = capsys.readouterr()
    assert out == "Writing it.\nDone."
    assert err.splitlines() == [
        '  [write_file] {"path": "plan.md", "content": "step 1"}',
        "  [write_file] failed: 'x' does not exist",
    ]


@pytest.mark.parametrize("annotation", [int, float])
@pytest.mark.parametrize(
    "value",
    [
        0,
        10,
        -3,
        2.5,
        True,
        "10",
        "-7",
        "+5",
        "2.5",
        ".5",
        "5.",
        "1e3",
        "-1.5E-2",
        " 10 ",
        "1_000",
        "inf",
        "nan",
        "0x10",
        "ten",
        "",
        "10.0",
    ],
)
def test_plain_number_coercion_agrees_with_typers_own(annotation: type, value: object) -> None:
    """Numbers coerced without pydantic come out exactly as pydantic coerces them."""
    from pydantic import TypeAdapter, ValidationError

    from roost.cli.plain_params import _plain_number

    plain = _plain_number(annotation, value)
    if plain is None:
        return  # handed to typer's own coercion
    try:
        expected = TypeAdapter(annotation).validate_python(value)
    except ValidationError:
        pytest.fail(f"{value!r} coerced to {plain!r}, pydantic refuses it")
    assert (plain, type(plain)) == (expected, type(expected))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run"], (None, 10.0)),
        (["--config", "r.yaml", "run"], (Path("r.yaml"), 10.0)),
        (["-c", "r.yaml", "-v", "run", "--grace", "2.5"], (Path("r.yaml"), 2.5)),
        (["-v", "--config=r.yaml", "run", "--grace=0"], (Path("r.yaml"), 0.0)),
        (["--config", "run", "run"], (Path("run"), 10.0)),
        (["run", "--help"], None),
        (["run", "--grace", "soon"], None),
        (["run", "--grace"], None),
        (["run", "extra"], None),
        (["--config", "a.yaml", "--config", "b.yaml", "run"], None),
        (["--config", "-x", "run"], None),
        (["--config=", "run"], None),
        (["-c", "run"], None),
        (["--version", "run"], None),
        (["ask", "run"], None),
        (["ask", "assistant", "hi"], None),
        ([], None),
    ],
)
def test_a_plain_roost_run_is_recognised_exactly(
    args: list[str], expected: tuple[Path | None, float] | None
) -> None:
    """Only exact spellings of `roost run` skip typer; anything else gets typer's handling."""
    from roost.cli.main import _plain_run

    assert _plain_run(args) == expected


def test_a_plain_roost_run_does_not_load_typer(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "import roost.cli.serve as serve\n"
        "serve.serve = lambda config, grace: print(config, grace, 'typer' in sys.modules)\n"
        "sys.argv = ['roost', '--config', 'x.yaml', 'run', '--grace', '3']\n"
        "from roost.cli.main import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert (result.returncode, result.stdout.split()) == (0, ["x.yaml", "3.0", "False"])

"""The `roost` command as a user runs it: real processes, real files, the fake LLM."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Annotated

import pytest
import typer
import typer.main

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
    assert report["by_agent"]["coder"]["calls"] == 4


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
    for since in ((), ("--since", "1d")):
        report = json.loads(roost("cost", "--json", *since).stdout)
        assert report["total"]["calls"] == 1
        assert report["by_agent"]["coder"]["cost_usd"] == pytest.approx(answer["cost_usd"])
        assert report["by_model"]["gpt/gpt-5-mini"]["input_tokens"] == 1000
    assert (
        json.loads(roost("cost", "--json", "--by", "role").stdout)["groups"]["routine"]["calls"]
        == 1
    )
    table = roost("cost").stdout
    assert "agent coder" in table and "0.0003" in table and "projected" in table
    for bad in (["--by", "colour"], ["--since", "yesterday"]):
        refused = roost("cost", *bad)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        assert bad[1] in refused.stderr


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


# Starts roost with SIGINT ignored, as a background job of a non-interactive shell does.
SIGINT_IGNORED = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, '-m', 'roost', *sys.argv[1:]])",
]


@pytest.mark.parametrize("started", ["from a terminal", "with SIGINT ignored"])
def test_ctrl_c_interrupts_the_turn_at_once_and_records_it(
    config: Path, fake_llm: FakeLLM, tmp_path: Path, started: str
) -> None:
    fake_llm.delay(30)
    command = ROOST if started == "from a terminal" else SIGINT_IGNORED
    process = subprocess.Popen(
        [*command, "ask", "assistant", "take your time"],
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


def read_until(stream: IO[str], text: str) -> str:
    """Lines of ``stream`` up to the one containing ``text``, or up to its end."""
    seen = ""
    while text not in seen:
        line = stream.readline()
        if not line:
            break
        seen += line
    return seen


def test_run_starts_logs_and_stops_cleanly_on_sigterm(config: Path, tmp_path: Path) -> None:
    # Port 0: the default port may be in use (the user's own `roost run`, another program).
    with config.open("a") as file:
        file.write("gateway: {port: 0}\n")
    process = subprocess.Popen(
        [*ROOST, "run"], stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        assert process.stderr is not None
        seen = read_until(process.stderr, "roost is running")
        assert "roost is running with 2 agent(s)" in seen
        assert "agent assistant: claude/claude-haiku-4-5" in seen
        endpoint = json.loads((tmp_path / "home" / "gateway.json").read_text())
        port = int(endpoint["http"].rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass  # the gateway listens on the port the OS chose
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


@pytest.mark.parametrize(
    "text", ["0", "10", "-3", "+5", "2.5", ".5", "5.", "1e3", "-1.5E-2", " 10 ", "1_000", "inf"]
)
def test_a_plain_grace_is_read_as_typer_reads_it(text: str) -> None:
    """`roost run --grace` read without typer means what typer (click: float()) makes of it."""
    from roost.cli.plain_numbers import plain_float

    plain = plain_float(text)
    if plain is not None:  # else left to typer
        assert (plain, type(plain)) == (float(text), float)
    assert plain_float("10") == 10.0 and plain_float("inf") is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run"], (None, 10.0, None)),
        (["--config", "r.yaml", "run"], (Path("r.yaml"), 10.0, None)),
        (["-c", "r.yaml", "-v", "run", "--grace", "2.5"], (Path("r.yaml"), 2.5, None)),
        (["-v", "--config=r.yaml", "run", "--grace=0"], (Path("r.yaml"), 0.0, None)),
        (["--config", "run", "run"], (Path("run"), 10.0, None)),
        (["run", "-v"], (None, 10.0, None)),
        (["run", "--port", "0"], (None, 10.0, 0)),
        (["-c", "r.yaml", "run", "--port=8080", "-v"], (Path("r.yaml"), 10.0, 8080)),
        (["run", "--port", "70000"], None),
        (["run", "--port", "-1"], None),
        (["run", "--port", "x"], None),
        (["--port", "1", "run"], None),
        (["run", "--config", "r.yaml", "--grace", "2"], (Path("r.yaml"), 2.0, None)),
        (["-v", "run", "--grace=1", "--config=r.yaml"], (Path("r.yaml"), 1.0, None)),
        (["-v", "run", "-v"], None),
        (["-c", "a.yaml", "run", "-c", "b.yaml"], None),
        (["--grace", "1", "run"], None),
        (["run", "run"], None),
        (["run", "--config"], None),
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
    args: list[str], expected: tuple[Path | None, float, int | None] | None
) -> None:
    """Only exact spellings of `roost run` skip typer; anything else gets typer's handling."""
    from roost.cli.main import _plain_run

    assert _plain_run(args) == expected


def test_a_plain_roost_run_does_not_load_typer(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "import roost.cli.serve as serve\n"
        "serve.serve = lambda *args, port: print(*args, port, 'typer' in sys.modules)\n"
        "sys.argv = ['roost', '--config', 'x.yaml', 'run', '--grace', '3', '--port', '0']\n"
        "from roost.cli.main import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert (result.returncode, result.stdout.split()) == (0, ["x.yaml", "3.0", "0", "False"])


def test_config_and_verbose_work_after_any_command(config: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.yaml"
    config.rename(elsewhere)  # found only through --config now
    asked = roost("ask", "assistant", "hello", "-v", "--config", str(elsewhere))
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout == "echo: hello\n"
    assert "in-process (no gateway running)" in asked.stderr
    listing = roost("agents", "--json", "-c", str(elsewhere))
    assert [a["name"] for a in json.loads(listing.stdout)["agents"]] == ["assistant", "coder"]
    jobs = roost("jobs", "list", "--json", "--config", str(elsewhere), "-v")
    assert jobs.returncode == 0, jobs.stderr
    assert json.loads(jobs.stdout)["jobs"] == []
    wrong = roost("ask", "assistant", "hello", "--no-such-option")
    assert wrong.returncode == 2 and "No such option" in wrong.stderr


def _every_command() -> list[list[str]]:
    """Each command's words (``["jobs", "list"]``), groups and their subcommands alike."""
    from roost.cli.main import COMMANDS
    from roost.cli.typer_app import _load_command

    words: list[list[str]] = [[]]
    for name in COMMANDS:
        words.append([name])
        words.extend([name, sub] for sub in getattr(_load_command(name), "commands", {}))
    return words


def test_help_shows_flags_as_flags_and_arguments_by_name() -> None:
    from typer.testing import CliRunner

    from roost.cli.typer_app import app

    runner = CliRunner()
    commands = _every_command()
    assert ["ask"] in commands and ["jobs", "list"] in commands
    for words in commands:
        result = runner.invoke(app, [*words, "--help"], env={"COLUMNS": "100"})
        assert result.exit_code == 0, (words, result.output)
        text = result.output
        assert "<bool>" not in text and "<str>" not in text and "<path>" not in text, text
        usage = next(line.strip() for line in text.splitlines() if "Usage:" in line)
        assert re.fullmatch(
            rf"Usage: {re.escape(' '.join(['roost', *words]))} \[OPTIONS\]"
            r"( [A-Z_]+(\.\.\.)?| \[[A-Z_]+\](\.\.\.)?)*( COMMAND \[ARGS\]\.\.\.)?",
            usage,
        ), usage
        if words:
            assert "--config" in text and "--verbose" in text, words
    ask = runner.invoke(app, ["ask", "--help"], env={"COLUMNS": "100"}).output
    assert "Usage: roost ask [OPTIONS] AGENT MESSAGE" in ask
    json_line = next(line for line in ask.splitlines() if "--json" in line)
    assert json_line.split("--json")[1].split()[0] == "Print", json_line  # no value shown


@pytest.fixture
def long_workspace(config: Path, tmp_path: Path) -> Path:
    workspace = tmp_path / "a-workspace" / ("deeply-nested-" * 6) / "for-the-assistant"
    with config.open("a") as file:
        file.write(f"  writer: {{model: claude/claude-haiku-4-5, workspace: {workspace}}}\n")
    return workspace


def test_agents_through_a_pipe_prints_whole_values(long_workspace: Path) -> None:
    listing = roost("agents", env={**os.environ, "COLUMNS": "80"})
    assert listing.returncode == 0, listing.stderr
    lines = [line for line in listing.stdout.splitlines() if "writer" in line]
    assert len(lines) == 1 and str(long_workspace) in lines[0]
    assert "claude/claude-haiku-4-5" in lines[0] and "…" not in listing.stdout


def test_agents_on_a_narrow_terminal_prints_whole_values(long_workspace: Path) -> None:
    import pty

    main, child = pty.openpty()
    process = subprocess.Popen(
        [*ROOST, "agents"],
        stdout=child,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "80"},
    )
    os.close(child)
    output = b""
    try:
        while chunk := _read_pty(main):
            output += chunk
    finally:
        os.close(main)
        assert process.wait(timeout=60) == 0
    text = output.decode()
    assert f"workspace: {long_workspace}" in [line.strip() for line in text.splitlines()], text
    assert "…" not in text


def _read_pty(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the child closed its end
        return b""


def test_run_port_overrides_the_config_and_a_taken_port_names_its_holder(config: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = roost("run", "--port", str(port))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"gateway.port {port} is in use by " in result.stderr
    assert f"(pid {os.getpid()})" in result.stderr  # this test holds it, not "another roost run"
    assert "another roost run" not in result.stderr
    out_of_range = roost("run", "--port", "70000")
    assert out_of_range.returncode == 2 and "--port" in out_of_range.stderr


def test_a_commands_own_short_option_wins_over_the_shared_one() -> None:
    from roost.cli.typer_app import add_shared_options

    single = typer.Typer()

    @single.command()
    def show(value: Annotated[bool, typer.Option("--values", "-v")] = False) -> None:
        """A command with its own -v."""

    command = typer.main.get_command(single)
    add_shared_options(command)
    options = {param.name: param.opts for param in command.params}
    assert options["value"] == ["--values", "-v"]
    assert options["verbose"] == ["--verbose"] and options["config"] == ["--config", "-c"]

"""Running commands: timeouts kill the process group, output is capped, the env is clean."""

from __future__ import annotations

import asyncio
import os
import resource
import time
from pathlib import Path

import pytest

from roost.tools.shell_run import OutputCap, clean_environment, run_command


def sh(command: str) -> list[str]:
    return ["/bin/sh", "-c", command]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its parent counts as gone
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


async def gone(pid: int, within_s: float = 5.0) -> None:
    """Polls (with a deadline) until ``pid`` is gone: SIGKILL is delivered asynchronously."""
    deadline = time.monotonic() + within_s
    while alive(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} still alive after {within_s}s")
        await asyncio.sleep(0.01)


async def test_runs_in_the_workspace_and_reports_the_exit_code(tmp_path: Path) -> None:
    env = clean_environment(tmp_path, os.environ)
    result = await run_command(
        sh("pwd; echo oops >&2; exit 3"), cwd=tmp_path, env=env, timeout_s=10
    )
    assert result.exit_code == 3 and not result.timed_out
    assert result.output == f"{tmp_path}\noops\n"
    assert result.for_model(10).startswith("exit code 3\n")


async def test_a_command_that_runs_forever_is_killed_with_its_forked_grandchild(
    tmp_path: Path,
) -> None:
    env = clean_environment(tmp_path, os.environ)
    script = "sleep 1000 & echo $! > child.pid; (sleep 1000 &) ; echo started; wait"
    result = await run_command(sh(script), cwd=tmp_path, env=env, timeout_s=0.5)
    assert result.timed_out and result.exit_code is None
    assert "started" in result.output and "killed after 0.5 s (timeout)" in result.for_model(0.5)
    grandchild = int((tmp_path / "child.pid").read_text())
    await gone(grandchild)


async def test_background_children_do_not_outlive_a_finished_command(tmp_path: Path) -> None:
    env = clean_environment(tmp_path, os.environ)
    result = await run_command(
        sh("sleep 1000 & echo $! > child.pid; echo done"), cwd=tmp_path, env=env, timeout_s=30
    )
    assert result.exit_code == 0 and result.output == "done\n"
    grandchild = int((tmp_path / "child.pid").read_text())
    await gone(grandchild)


async def test_gigabytes_of_output_are_capped_head_and_tail(tmp_path: Path) -> None:
    env = clean_environment(tmp_path, os.environ)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    command = "echo FIRST; head -c 1073741824 /dev/zero | tr '\\0' x; echo; echo LAST"
    result = await run_command(
        sh(command), cwd=tmp_path, env=env, timeout_s=120, cap=OutputCap(1000, 1000)
    )
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert result.exit_code == 0
    assert result.output.startswith("FIRST\nxxx") and result.output.endswith("xxx\nLAST\n")
    assert result.dropped_bytes == 1024**3 + len("FIRST\n\nLAST\n") - 2000
    assert f"[… {result.dropped_bytes} bytes of output dropped …]" in result.output
    assert len(result.output) < 2100
    assert grown_kb < 64 * 1024  # the gigabyte never sat in memory


async def test_the_environment_holds_none_of_roosts_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-DISTINCTIVE-4242")
    monkeypatch.setenv("ROOST_GATEWAY_TOKEN", "gw-DISTINCTIVE-4242")
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = clean_environment(tmp_path, os.environ, ["sk-ant-DISTINCTIVE-4242"])
    result = await run_command(sh("env"), cwd=tmp_path, env=env, timeout_s=10)
    assert "DISTINCTIVE" not in result.output
    assert f"HOME={tmp_path}" in result.output and "LANG=C.UTF-8" in result.output
    assert set(env) <= {"PATH", "HOME", "TERM", "LANG", "LC_ALL", "TZ"}


async def test_known_secrets_printed_by_a_command_are_redacted(tmp_path: Path) -> None:
    (tmp_path / "leak.txt").write_text("token=sk-ant-DISTINCTIVE-4242\n")
    env = clean_environment(tmp_path, os.environ)
    result = await run_command(
        sh("cat leak.txt"),
        cwd=tmp_path,
        env=env,
        timeout_s=10,
        secrets=["sk-ant-DISTINCTIVE-4242"],
    )
    assert result.output == "token=<redacted>\n"


async def test_stdin_is_closed(tmp_path: Path) -> None:
    env = clean_environment(tmp_path, os.environ)
    result = await run_command(sh("cat; echo end"), cwd=tmp_path, env=env, timeout_s=10)
    assert result.output == "end\n"

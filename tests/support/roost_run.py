"""`roost run` as a child process, started as a user starts it, for the tests beside it.

``start_roost_run`` returns once the child's gateway has written ``gateway.json`` naming
that child (polled against a deadline: the event is in another process); a child that
exits first fails the test with what it printed. Its stderr goes to a file beside its
home, never to an unread pipe that could fill up and stall a long-lived child.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from roost.gateway.discovery import Endpoint, read_endpoint

ROOST = [sys.executable, "-m", "roost"]
START_WAIT_S = 60.0
"""Generous: a busy machine (2 cores, several suites) can take seconds to start Python."""
STOP_WAIT_S = 30.0


_DEVELOPER_ENV = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")


def developer_setting(name: str) -> bool:
    """An environment variable of the developer's own setup that no test may see: a
    model key or any ``ROOST_*`` setting (config, home, model, systemctl, token...)."""
    return name.startswith("ROOST_") or name in _DEVELOPER_ENV


def child_env(user_home: Path) -> dict[str, str]:
    """This process's environment without the developer's keys and ``ROOST_*`` settings,
    ``HOME`` set to ``user_home``: what ``isolated_env`` gives each test, for a child that
    outlives one test (module-scoped fixtures run before it)."""
    env = {name: value for name, value in os.environ.items() if not developer_setting(name)}
    env["HOME"] = str(user_home)
    return env


@dataclass
class RoostRun:
    """A started `roost run` child and the gateway it announced."""

    process: subprocess.Popen[bytes]
    endpoint: Endpoint
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ws_url(self) -> str:
        return self.endpoint.ws_url

    @property
    def http_url(self) -> str:
        return self.endpoint.http_url

    def stderr(self) -> str:
        """What the child has written to stderr so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout_s: float = STOP_WAIT_S) -> int:
        """SIGTERM, as a service manager stops it; killed if it does not end in time.
        Returns its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill_9(self) -> None:
        """SIGKILL: a crash, with nothing cleaned up."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_WAIT_S)


def start_roost_run(
    home: Path,
    args: Sequence[str] = (),
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = START_WAIT_S,
) -> RoostRun:
    """Start `roost run ARGS` (config found from ``cwd``, the current directory by default)
    and wait until its gateway listens; ``home`` is the config's home."""
    stderr_path = _free_log_path(home.parent)
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [*ROOST, "run", *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=cwd,
            env=dict(env if env is not None else os.environ),
        )
    deadline = time.monotonic() + timeout_s
    while (endpoint := read_endpoint(home)) is None or endpoint.pid != process.pid:
        if process.poll() is not None:
            text = stderr_path.read_text(encoding="utf-8", errors="replace")
            pytest.fail(f"roost run exited {process.returncode} before listening:\n{text}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"roost run did not write {home / 'gateway.json'} within {timeout_s:g}s")
        time.sleep(0.02)
    return RoostRun(process, endpoint, stderr_path)


@contextmanager
def running_roost(
    home: Path,
    args: Sequence[str] = (),
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[RoostRun]:
    """`roost run` for the duration of the block, stopped with SIGTERM after it."""
    run = start_roost_run(home, args, cwd=cwd, env=env)
    try:
        yield run
    finally:
        run.stop()


def _free_log_path(directory: Path) -> Path:
    """``roost-run-N.stderr`` in ``directory``: one file per child (a test may start several)."""
    directory.mkdir(parents=True, exist_ok=True)
    for number in range(1, 1000):
        path = directory / f"roost-run-{number}.stderr"
        if not path.exists():
            return path
    raise AssertionError(f"too many roost run logs in {directory}")

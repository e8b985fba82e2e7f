"""`roost run` speaks sd_notify on a real unix datagram socket, as under systemd."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.cli.systemd_notify import SystemdNotifier
from tests.ops.conftest import ROOST


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    # A short directory: a unix socket path must fit in 108 bytes.
    with tempfile.TemporaryDirectory(prefix="roost-sd-") as directory:
        path = os.path.join(directory, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        try:
            yield sock, path
        finally:
            sock.close()


def receive_until(sock: socket.socket, field: str, timeout_s: float = 30.0) -> list[str]:
    """Every datagram's fields up to the one holding ``field``."""
    deadline = time.monotonic() + timeout_s
    seen: list[str] = []
    while field not in seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"no {field} within {timeout_s}s; got {seen}")
        sock.settimeout(remaining)
        seen.extend(sock.recv(4096).decode().split("\n"))
    return seen


def test_run_says_ready_watchdog_and_stopping(
    config: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"}
    process = subprocess.Popen([*ROOST, "run"], stderr=subprocess.DEVNULL, env=env)
    try:
        ready = receive_until(sock, "READY=1")
        assert "STATUS=serving 2 agent(s)" in ready
        receive_until(sock, "WATCHDOG=1")  # pinged at half of WATCHDOG_USEC
        receive_until(sock, "WATCHDOG=1")
        process.send_signal(signal.SIGTERM)
        stopping = receive_until(sock, "STOPPING=1")
        assert any(field.startswith("STATUS=stopping") for field in stopping)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_an_abstract_socket_name_is_used_as_such() -> None:
    name = f"roost-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(10)
        SystemdNotifier({"NOTIFY_SOCKET": "@" + name}).notify("READY=1", "STATUS=hello")
        assert sock.recv(4096) == b"READY=1\nSTATUS=hello"


def test_without_notify_socket_nothing_is_sent_and_no_watchdog() -> None:
    quiet = SystemdNotifier({"WATCHDOG_USEC": "1000000"})
    assert not quiet.enabled
    quiet.notify("READY=1")  # no socket: nothing to fail
    other_process = SystemdNotifier(
        {"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
    )
    assert other_process.watchdog_s is None
    assert SystemdNotifier({"NOTIFY_SOCKET": "relative"}).enabled is False

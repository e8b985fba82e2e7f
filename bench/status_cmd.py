"""Wall time of `roost status` (a fresh process), with `roost run` down and up.

Target (issue #14): <= 0.3 s. Python's own start-up is measured beside it.

    python -m bench.status_cmd [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.common import emit, fake_llm_process, roost_home, summary, timed_run

ROOST = [sys.executable, "-m", "roost"]


def _start(directory: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with (directory / "roost.yaml").open("a", encoding="utf-8") as config:
        config.write("gateway: {port: 0}\n")
    process = subprocess.Popen([*ROOST, "run"], cwd=directory, env=env, stderr=subprocess.DEVNULL)
    endpoint = directory / "home" / "gateway.json"
    deadline = time.monotonic() + 60
    while not _written_by(endpoint, process.pid):
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("roost run did not start")
        time.sleep(0.05)
    return process


def _written_by(endpoint: Path, pid: int) -> bool:
    try:
        return bool(json.loads(endpoint.read_text())["pid"] == pid)
    except (OSError, ValueError, KeyError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    with fake_llm_process() as url, roost_home(url) as (directory, env):
        timed_run([*ROOST, "ask", "assistant", "hello"], directory, env)  # a store to read
        figures: dict[str, object] = {
            "python_startup_s": summary(
                [timed_run([sys.executable, "-c", "pass"], directory, env) for _ in range(runs)]
            ),
            "status_stopped_s": summary(
                [timed_run([*ROOST, "status"], directory, env) for _ in range(runs)]
            ),
        }
        process = _start(directory, env)
        try:
            figures["status_running_s"] = summary(
                [timed_run([*ROOST, "status"], directory, env) for _ in range(runs)]
            )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    medians = {k: v["median"] for k, v in figures.items() if isinstance(v, dict)}
    emit(
        figures,
        f"roost status, median of {runs}: running {medians['status_running_s']:.2f} s, "
        f"stopped {medians['status_stopped_s']:.2f} s (python start-up "
        f"{medians['python_startup_s']:.2f} s; target <= 0.3 s)",
    )


if __name__ == "__main__":
    main()

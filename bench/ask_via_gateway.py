"""Wall time of `roost ask` through a running gateway (`roost run`) against the fake LLM.

Target: <= 0.3 s. The turn runs in the `roost run` child; the measured process only
finds the gateway, connects, sends, and prints the streamed reply. Beside it: the
interpreter's start, the client's imports alone, and `roost ask --local` (in-process)
for comparison.

    python -m bench.ask_via_gateway [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import emit, fake_llm_process, roost_home, summary, timed_run

ROOST = [sys.executable, "-m", "roost"]
CLIENT_IMPORTS = (
    "import gc, os; gc.disable(); import roost.cli.main, roost.cli.ask_cmd, "
    "roost.client.gateway_client, roost.client.config_without_pydantic, roost.client.remote_turn; "
    "os._exit(0)"
)


@contextmanager
def roost_run(directory: Path, env: dict[str, str]) -> Iterator[str]:
    """A `roost run` child with its gateway on a free port; yields the gateway's URL."""
    with (directory / "roost.yaml").open("a", encoding="utf-8") as config:
        config.write("gateway: {port: 0}\n")
    endpoint = directory / "home" / "gateway.json"
    process = subprocess.Popen(
        [*ROOST, "run"],
        cwd=directory,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not endpoint.exists():
            if process.poll() is not None:
                assert process.stderr is not None
                raise RuntimeError(f"roost run exited: {process.stderr.read().strip()}")
            if time.monotonic() > deadline:
                raise RuntimeError("roost run did not write gateway.json within 60 s")
            time.sleep(0.05)
        yield str(json.loads(endpoint.read_text(encoding="utf-8"))["ws"])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def import_breakdown(command: list[str], cwd: Path, env: dict[str, str]) -> dict[str, float]:
    """What the command imports at the top level, by cumulative ms (one run, -X importtime)."""
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    costs: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        if name.startswith("   ") and not name.startswith("    "):  # top level
            costs[name.strip()] = round(int(cumulative) / 1000, 1)
    biggest = sorted(costs.items(), key=lambda item: item[1], reverse=True)[:8]
    return {**dict(biggest), "all_top_level": round(sum(costs.values()), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    question = ["ask", "assistant", "hello"]
    ask = [*ROOST, *question]
    with (
        fake_llm_process() as url,
        roost_home(url) as (directory, env),
        roost_run(directory, env) as ws_url,
    ):
        check = subprocess.run(
            [*ROOST, "-v", *question], cwd=directory, env=env, capture_output=True, text=True
        )
        if check.returncode != 0 or "via gateway" not in check.stderr:
            raise RuntimeError(f"roost ask did not go through the gateway: {check.stderr}")
        first = timed_run(ask, directory, env)
        figures: dict[str, object] = {"gateway": ws_url, "first_run_s": round(first, 4)}
        figures["ask_via_gateway_s"] = summary(
            [timed_run(ask, directory, env) for _ in range(runs)]
        )
        figures["top_level_imports_ms"] = import_breakdown(
            [*ROOST[:1], "-X", "importtime", *ROOST[1:], *question], directory, env
        )
        few = max(5, runs // 3)
        figures["python_startup_s"] = summary(
            [timed_run([sys.executable, "-c", "pass"], directory, env) for _ in range(few)]
        )
        figures["client_imports_s"] = summary(
            [timed_run([sys.executable, "-c", CLIENT_IMPORTS], directory, env) for _ in range(few)]
        )
        figures["ask_local_s"] = summary(
            [timed_run([*ask, "--local"], directory, env) for _ in range(few)]
        )
    medians = {k: v["median"] for k, v in figures.items() if isinstance(v, dict) and "median" in v}
    via = figures["ask_via_gateway_s"]
    assert isinstance(via, dict)
    emit(
        figures,
        f"roost ask via the gateway, median of {runs}: {via['median']:.3f} s "
        f"(p95 {via['p95']:.3f}, min {via['min']:.3f}; target <= 0.3 s); of which python "
        f"startup {medians['python_startup_s']:.3f} s and the client's imports "
        f"{medians['client_imports_s']:.3f} s; in-process (--local) "
        f"{medians['ask_local_s']:.2f} s",
    )


if __name__ == "__main__":
    main()

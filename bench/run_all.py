"""Run every benchmark in bench/ and print one JSON object with all figures.

python -m bench.run_all          (or: make bench)
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench.common import REPO

BENCHMARKS = [
    "ask_cold",
    "ask_via_gateway",
    "gateway",
    "rss",
    "request_bytes",
    "tool_round",
    "install_size",
    "telegram_latency",
    "scheduler_fire",
    "slow_reader",
    "status_cmd",
    "cache_conversation",
    "openai_compat",
    "mcp_call",
    "memory_recall",
    "shell_round",
    "control_page",  # needs Debian's Chromium; says so when it is missing
]


def main() -> None:
    results: dict[str, object] = {}
    for name in BENCHMARKS:
        print(f"running bench/{name}.py …", file=sys.stderr)
        done = subprocess.run(
            [sys.executable, "-m", f"bench.{name}"], cwd=REPO, capture_output=True, text=True
        )
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            results[name] = {"error": done.stderr.strip().splitlines()[-1:]}
            continue
        results[name] = json.loads(done.stdout)
        print("  " + done.stderr.strip(), file=sys.stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

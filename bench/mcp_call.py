"""MCP: a stdio tool call's round trip, and `roost run`'s readiness with a server declared.

In one process, against the test server of tests/mcp (the SDK's MCPServer over stdio):

* ``call_ms``: one ``tools/call`` (``echo``) through Roost's supervised connection
  (``McpServer.call``) and the result made text for the model (joined, capped, marked
  untrusted): what a tool round adds beyond the model's calls. Target: ≤ 10 ms.
* ``app_start_s`` against ``server_ready_s``: an App with the gateway and the MCP
  feature (what `roost run` starts) returns from ``start`` (listening) before the
  server is ready: the server's start does not delay readiness.

    python -m bench.mcp_call [--calls 300]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, emit, summary

SERVER = REPO / "tests" / "mcp" / "mcp_test_server.py"


async def _call_round_trips(calls: int) -> tuple[list[float], float]:
    from roost.config.mcp_servers import McpServerConfig
    from roost.mcp.results import result_text
    from roost.mcp.server import McpServer

    config = McpServerConfig(command=sys.executable, args=[str(SERVER), "stdio"])
    server = McpServer("bench", config, lambda: None)
    server.start()
    try:
        if await server.settled(120) != "ready":
            raise RuntimeError(f"the server did not start: {server.status()}")
        for _ in range(20):  # warm-up: first calls compile the SDK's validators
            await server.call("echo", {"text": "warm"})
        samples = []
        cpu = time.process_time()
        for n in range(calls):
            began = time.perf_counter()
            result = await server.call("echo", {"text": f"call {n}"})
            result_text("mcp:bench/echo", list(result.content))
            samples.append((time.perf_counter() - began) * 1000)
        return samples, (time.process_time() - cpu) * 1000 / calls
    finally:
        await server.stop()


async def _readiness(home: Path) -> tuple[float, float]:
    from roost.app import App
    from roost.builtin_features import served_features
    from roost.config.loader import load_settings
    from roost.mcp.feature import McpFeature

    config = home / "roost.yaml"
    config.write_text(
        f"home: {home}\n"
        "gateway: {port: 0, token: bench-token}\n"
        f"mcp_servers:\n  bench: {{command: {sys.executable}, args: [{SERVER}, stdio]}}\n",
        encoding="utf-8",
    )
    settings = load_settings(config, env={})
    began = time.perf_counter()
    app = App(settings, served_features(settings))
    await app.start(recover=True)
    started = time.perf_counter() - began
    feature = app.feature(McpFeature)
    try:
        await feature.servers["bench"].settled(120)
        ready = time.perf_counter() - began
    finally:
        await app.stop(grace_s=1)
    return started, ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    samples, cpu_ms = asyncio.run(_call_round_trips(args.calls))
    with tempfile.TemporaryDirectory(prefix="roost-bench-mcp-") as tmp:
        started, ready = asyncio.run(_readiness(Path(tmp)))
    calls = summary(samples)
    figures = {
        "call_ms": calls,
        "target_call_ms": 10,
        # This process's CPU per call (the SDK's client and Roost's part); the rest of
        # the wall time is the server's, and waiting for a core on a shared machine.
        "roost_cpu_ms_per_call": round(cpu_ms, 3),
        "app_start_s": round(started, 3),
        "server_ready_s": round(ready, 3),
    }
    emit(
        figures,
        f"MCP stdio call: median {calls['median']:.2f} ms, p95 {calls['p95']:.2f} ms "
        f"(target ≤ 10 ms; {cpu_ms:.2f} ms CPU here); `roost run` ready in {started:.2f} s, "
        f"the server {ready:.2f} s",
    )


if __name__ == "__main__":
    main()

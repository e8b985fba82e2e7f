"""Overhead of one tool round: the model asks for read_file, the result goes back.

A turn with a tool round makes two model calls; what Roost adds around them (the tool
call parsed and validated, the file read in a worker thread, the assistant message and
the tool result stored, the second request built) is the turn's time minus the two
calls' (timed around ``Provider.complete``). Also given: the same share for a plain
turn (one call) and the difference, the tool round's own cost. Target (issue #12):
<= 2 ms beyond the two model calls.

The fake LLM runs in its own process (``--serve``, so it does not share this one's CPU
time): it asks for ``read_file`` when a turn's text is "read my notes" and no tool
result came back yet, and otherwise echoes.

    python -m bench.tool_round [--turns 300]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import emit, fake_llm_process, summary
from bench.turn_path import TimedProvider
from roost.app import App
from roost.bus.envelope import Envelope
from roost.config.loader import load_settings
from tests.fakes.fake_llm.script import RecordedRequest, ScriptedAnswer
from tests.fakes.llm_server import running_fake_llm

AGENT = "assistant"
WARMUP = 20


def _envelope(text: str, session: str) -> Envelope:
    # A session per turn: a history that grew turn after turn would be measured instead.
    return Envelope(
        sender="bench:tool", recipient=f"agent:{AGENT}", session=session, body=text, reply_to=None
    )


def _has_tool_result(body: Any) -> bool:
    last = (body.get("messages") or [{}])[-1] if isinstance(body, dict) else {}
    content = last.get("content") if isinstance(last, dict) else None
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


def serve() -> int:
    """The fake LLM, answering "read my notes" with a read_file call, then "done"."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with running_fake_llm() as llm:
        llm.max_recorded = 100
        answer = llm.next_answer

        async def scripted(record: RecordedRequest) -> ScriptedAnswer:
            body = record.body
            if "read my notes" in str(body) and not _has_tool_result(body):
                llm.tool_call("read_file", {"path": "notes.txt"})
            return await answer(record)

        llm.next_answer = scripted  # type: ignore[method-assign]
        print(llm.url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


async def _share(
    app: App, timed: TimedProvider, session: str, *, tool: bool
) -> tuple[float, float]:
    """Roost's share of one turn (the turn's time minus its model calls'), and the CPU
    time this process spent on the whole turn (SDK client side included), in ms."""
    assert timed.seconds is not None
    before = len(timed.seconds)
    cpu_started = time.process_time()
    started = time.perf_counter()
    result = await app.router.ask(_envelope("read my notes" if tool else "hello", session))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if not result.ok:
        raise RuntimeError(f"turn failed: {result.text}")
    calls = timed.seconds[before:]
    if len(calls) != (2 if tool else 1):
        raise RuntimeError(f"expected {2 if tool else 1} model calls, got {len(calls)}")
    return (elapsed - sum(calls)) * 1000, cpu * 1000


Samples = dict[str, list[float]]


async def _turns(app: App, timed: TimedProvider, turns: int) -> Samples:
    """Plain and tool turns taken in alternation, so that both see the same machine load."""
    samples: Samples = {"plain": [], "tool": [], "plain_cpu": [], "tool_cpu": []}
    for index in range(WARMUP + turns):
        plain = await _share(app, timed, f"plain-{index}", tool=False)
        tool = await _share(app, timed, f"tool-{index}", tool=True)
        if index >= WARMUP:
            samples["plain"].append(plain[0])
            samples["tool"].append(tool[0])
            samples["plain_cpu"].append(plain[1])
            samples["tool_cpu"].append(tool[1])
    return samples


async def measure(url: str, turns: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="roost-bench-") as tmp:
        directory = Path(tmp)
        workspace = directory / "workspace"
        workspace.mkdir()
        (workspace / "notes.txt").write_text("buy milk\n" * 50, encoding="utf-8")
        (directory / "roost.yaml").write_text(
            textwrap.dedent(
                f"""\
                home: {directory / "home"}
                providers:
                  claude: {{type: anthropic, base_url: "{url}", api_key: bench}}
                agents:
                  {AGENT}:
                    model: claude/claude-haiku-4-5
                    tools: [read_file]
                    workspace: {workspace}
                """
            ),
            encoding="utf-8",
        )
        app = App(load_settings(directory / "roost.yaml", env={}))
        timed = TimedProvider(app.providers["claude"])
        app.providers["claude"] = timed
        await app.start()
        try:
            samples = await _turns(app, timed, turns)
        finally:
            await app.stop()
    plain_ms, tool_ms = summary(samples["plain"]), summary(samples["tool"])
    plain_cpu, tool_cpu = summary(samples["plain_cpu"]), summary(samples["tool_cpu"])
    return {
        "turns": turns,
        "roost_share_plain_turn_ms": plain_ms,
        "roost_share_tool_turn_ms": tool_ms,
        "tool_round_overhead_ms": round(tool_ms["median"] - plain_ms["median"], 3),
        # The fastest of each: what the round costs when nothing else wants the CPU.
        "tool_round_overhead_min_ms": round(tool_ms["min"] - plain_ms["min"], 3),
        # CPU time is not inflated by other processes' load: an upper bound of the round's
        # own work (it includes the client side of the second model call: SDK, HTTP).
        "cpu_plain_turn_ms": plain_cpu,
        "cpu_tool_turn_ms": tool_cpu,
        "tool_round_cpu_ms": round(tool_cpu["median"] - plain_cpu["median"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        sys.exit(serve())
    with fake_llm_process([sys.executable, "-m", "bench.tool_round", "--serve"]) as url:
        figures = asyncio.run(measure(url, args.turns))
    tool = figures["roost_share_tool_turn_ms"]
    plain = figures["roost_share_plain_turn_ms"]
    assert isinstance(tool, dict) and isinstance(plain, dict)
    emit(
        figures,
        f"tool round (read_file): Roost's share of a turn with one tool round median "
        f"{tool['median']:.2f} ms (p95 {tool['p95']:.2f}) beyond its two model calls, "
        f"{plain['median']:.2f} ms for a plain turn: the round itself "
        f"{figures['tool_round_overhead_ms']:.2f} ms, fastest against fastest "
        f"{figures['tool_round_overhead_min_ms']:.2f} ms; CPU of the round, second model "
        f"call's client side included, {figures['tool_round_cpu_ms']:.2f} ms (target <= 2 ms)",
    )


if __name__ == "__main__":
    main()

"""A shell tool round: the model asks for ``shell``, the result goes back, the model answers.

In process, with a scripted provider that answers at once (a tool call, then text), so
what is timed is Roost's own work. Figures (issue #12's target in brackets):

- ``round_overhead_ms``: a turn with one shell round, minus the two model calls and
  minus the shell tool's own run: the tool loop, the stored messages, the policy and
  approval-list lookup, the reply [<= 2 ms]
- ``shell_tool_ms``: the tool's run (``true`` through /bin/sh: the process spawn, the
  capped read, the group kill), without and, where bwrap works, with the sandbox
- ``one_call_turn_ms``: a turn with no tool, for comparison

    python -m bench.shell_round [--turns 300]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from bench.common import emit, summary
from roost.app import App
from roost.bus.envelope import Envelope
from roost.config.loader import load_settings
from roost.providers.base import ModelRequest, ModelResponse, TextSink, ToolCall
from roost.tools.files import FILE_TOOLS
from roost.tools.registry import Tool
from roost.tools.sandbox import probe_sandbox

AGENT = "ops"
WARMUP = 20


class ScriptedProvider:
    """Answers at once: a ``shell`` call to a user's ``tool`` message, else text."""

    name = "claude"
    kind = "anthropic"

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def complete(
        self, request: ModelRequest, on_text: TextSink | None = None
    ) -> ModelResponse:
        started = time.perf_counter()
        last = request.messages[-1]
        if last.role == "user" and last.text == "tool":
            found = ModelResponse("", (ToolCall("c1", "shell", '{"command": "true"}'),))
        else:
            found = ModelResponse("done")
        self.seconds.append(time.perf_counter() - started)
        return found

    async def warm_up(self) -> None:
        """Nothing to import or build: the answers are scripted."""

    async def aclose(self) -> None:
        return None


def timed_tools(app: App, spent: list[float]) -> None:
    """Wrap every tool's handler to record how long it ran."""

    def wrap(tool: Tool) -> Tool:
        async def handler(context: Any, arguments: Any) -> str:
            started = time.perf_counter()
            try:
                return await tool.handler(context, arguments)
            finally:
                spent.append(time.perf_counter() - started)

        return dataclasses.replace(tool, handler=handler)

    every = [*FILE_TOOLS, *(tool for feature in app.features for tool in feature.tools())]
    app.tools.replace([wrap(tool) for tool in every])


def envelope(text: str) -> Envelope:
    return Envelope(sender="bench:x", recipient=f"agent:{AGENT}", session="s", body=text)


async def measure(turns: int, sandbox: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="roost-bench-") as tmp:
        directory = Path(tmp)
        (directory / "roost.yaml").write_text(
            textwrap.dedent(
                f"""\
                home: {directory / "home"}
                shell: {{sandbox: {sandbox}}}
                providers:
                  claude: {{type: anthropic, api_key: bench}}
                agents:
                  {AGENT}:
                    model: claude/claude-haiku-4-5
                    tools: [shell]
                    shell: {{mode: allowlist, allow: ["true"]}}
                """
            ),
            encoding="utf-8",
        )
        app = App(load_settings(directory / "roost.yaml", env={}))
        provider = ScriptedProvider()
        app.providers["claude"] = provider
        spent: list[float] = []
        timed_tools(app, spent)
        await app.start(recover=True)
        try:
            for _ in range(WARMUP):
                await app.router.ask(envelope("tool"))
            plain, rounds, tools = [], [], []
            for _ in range(turns):
                started = time.perf_counter()
                await app.router.ask(envelope("no tool"))
                plain.append(time.perf_counter() - started)
                calls, ran = len(provider.seconds), len(spent)
                started = time.perf_counter()
                result = await app.router.ask(envelope("tool"))
                took = time.perf_counter() - started
                if not result.ok:
                    raise RuntimeError(result.text)
                tool_s = sum(spent[ran:])
                rounds.append(took - sum(provider.seconds[calls:]) - tool_s)
                tools.append(tool_s)
        finally:
            await app.stop()
    baseline = summary([s * 1000 for s in plain])
    with_round = summary([s * 1000 for s in rounds])
    return {
        "one_call_turn_ms": baseline,
        "turn_with_shell_round_minus_calls_and_tool_ms": with_round,
        "round_overhead_ms": round(with_round["median"] - baseline["median"], 4),
        "round_overhead_min_ms": round(with_round["min"] - baseline["min"], 4),
        "shell_tool_ms": summary([s * 1000 for s in tools]),
    }


async def run(turns: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"unsandboxed": await measure(turns, "off")}
    probe = probe_sandbox()
    if probe.usable:
        figures["sandboxed"] = await measure(max(turns // 3, 20), "required")
    else:
        figures["sandboxed"] = {"skipped": probe.detail}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=300)
    args = parser.parse_args()
    figures = asyncio.run(run(args.turns))
    plain = figures["unsandboxed"]
    boxed = figures["sandboxed"]
    boxed_text = (
        f"{boxed['shell_tool_ms']['median']:.1f} ms sandboxed"
        if "shell_tool_ms" in boxed
        else "sandbox skipped"
    )
    overhead = f"{plain['round_overhead_ms']:.2f} ms median, "
    overhead += f"{plain['round_overhead_min_ms']:.2f} ms min"
    tool = f"{plain['shell_tool_ms']['median']:.1f} ms unsandboxed, {boxed_text}"
    emit(
        figures,
        f"shell round: overhead beyond a one-call turn {overhead} (target <= 2 ms); "
        f"the tool's own run {tool}",
    )


if __name__ == "__main__":
    main()

"""The hot path of one turn, in process: `App` and `router.ask` against the fake LLM.

The fake LLM runs in its own process (so it does not share this one's CPU time),
answering at once. Figures (issue #3 targets in brackets, where this is their part):

- turns in one session, one at a time: median and p95 of ``router.ask`` (inbox,
  turn, finish; the reply also goes through the outbox to a channel that takes it
  at once), the provider call inside it (timed around ``Provider.complete``: the
  SDK, HTTP and the fake server) and Roost's share, the rest [round trip <= 10 ms]
- turns per second with 50 concurrent sessions
- resident memory growth over 10,000 more turns (50 sessions), from /proc/self/status
  [<= 10 MB]; ``--tracemalloc`` adds the biggest allocation differences between the
  two halves of the soak (slow)

    python -m bench.turn_path [--turns 1000] [--sessions 50] [--soak 10000] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import textwrap
import time
import tracemalloc
from pathlib import Path

from bench.common import emit, fake_llm_process, summary
from roost.app import App
from roost.bus.envelope import Delivery, Envelope
from roost.config.loader import load_settings
from roost.providers.base import ModelRequest, ModelResponse, Provider, TextSink

AGENT = "assistant"
WARMUP = 20
SOAK_CHUNK = 2000


class TimedProvider:
    """A provider that records how long each of its calls took."""

    def __init__(self, inner: Provider) -> None:
        self._inner = inner
        self.seconds: list[float] | None = []

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def kind(self) -> str:
        return self._inner.kind

    async def complete(
        self, request: ModelRequest, on_text: TextSink | None = None
    ) -> ModelResponse:
        started = time.perf_counter()
        try:
            return await self._inner.complete(request, on_text)
        finally:
            if self.seconds is not None:
                self.seconds.append(time.perf_counter() - started)

    async def warm_up(self) -> None:
        await self._inner.warm_up()

    async def aclose(self) -> None:
        await self._inner.aclose()


class BenchChannel:
    """Takes every delivery at once (the outbox path runs as it does for a chat)."""

    scheme = "bench"

    def __init__(self) -> None:
        self.delivered = 0

    async def deliver(self, delivery: Delivery) -> str | None:
        self.delivered += 1
        return None


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _envelope(session: str, text: str) -> Envelope:
    # One address per session, as each WebSocket client has its own.
    return Envelope(
        sender=f"bench:{session}",
        recipient=f"agent:{AGENT}",
        session=session,
        body=text,
        reply_to=f"bench:{session}",
    )


async def _sequential(
    app: App, timed: TimedProvider, turns: int
) -> tuple[list[float], list[float]]:
    for _ in range(WARMUP):
        await app.router.ask(_envelope("seq", "warm up"))
    asks: list[float] = []
    calls: list[float] = []
    assert timed.seconds is not None
    for _ in range(turns):
        before = len(timed.seconds)
        started = time.perf_counter()
        result = await app.router.ask(_envelope("seq", "ping"))
        asks.append(time.perf_counter() - started)
        if not result.ok:
            raise RuntimeError(f"turn failed: {result.text}")
        calls.append(sum(timed.seconds[before:]))
    return asks, calls


async def _concurrent(app: App, sessions: int, turns_each: int) -> float:
    async def run(index: int) -> None:
        for _ in range(turns_each):
            await app.router.ask(_envelope(f"c-{index}", "hello"))

    started = time.perf_counter()
    await asyncio.gather(*(run(i) for i in range(sessions)))
    return sessions * turns_each / (time.perf_counter() - started)


def _allocation_growth(first: tracemalloc.Snapshot, second: tracemalloc.Snapshot) -> list[str]:
    return [str(stat) for stat in second.compare_to(first, "lineno")[:10]]


async def _measure(url: str, args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="roost-bench-") as tmp:
        directory = Path(tmp)
        (directory / "roost.yaml").write_text(
            textwrap.dedent(
                f"""\
                home: {directory / "home"}
                providers:
                  claude: {{type: anthropic, base_url: "{url}", api_key: bench}}
                agents:
                  {AGENT}: {{model: claude/claude-haiku-4-5, tools: []}}
                """
            ),
            encoding="utf-8",
        )
        app = App(load_settings(directory / "roost.yaml", env={}))
        timed = TimedProvider(app.providers["claude"])
        app.providers["claude"] = timed
        channel = BenchChannel()
        app.dispatcher.register(channel)
        await app.start(recover=True)
        try:
            asks, calls = await _sequential(app, timed, args.turns)
            rate = await _concurrent(app, args.sessions, max(1, args.turns // 10))
            timed.seconds = None  # the soak keeps nothing of its own
            chunk_each = max(1, SOAK_CHUNK // args.sessions)
            chunks = max(2, round(args.soak / (chunk_each * args.sessions)))
            gc.collect()
            rss_trace = [_rss_mb()]
            snapshots: list[tracemalloc.Snapshot] = []
            if args.tracemalloc:
                tracemalloc.start()
            for index in range(chunks):
                await _concurrent(app, args.sessions, chunk_each)
                gc.collect()
                rss_trace.append(_rss_mb())
                if args.tracemalloc and index in (chunks // 2 - 1, chunks - 1):
                    snapshots.append(tracemalloc.take_snapshot())
        finally:
            await app.stop()
    ask_ms = summary([s * 1000 for s in asks])
    call_ms = summary([s * 1000 for s in calls])
    roost_ms = summary([(a - c) * 1000 for a, c in zip(asks, calls, strict=True)])
    figures: dict[str, object] = {
        "ask_ms": ask_ms,
        "provider_call_ms": call_ms,
        "roost_share_ms": roost_ms,
        "turns_per_s_concurrent": round(rate, 1),
        "concurrent_sessions": args.sessions,
        "soak_turns": chunks * chunk_each * args.sessions,
        "rss_before_soak_mb": round(rss_trace[0], 1),
        "rss_after_soak_mb": round(rss_trace[-1], 1),
        "rss_growth_over_soak_mb": round(rss_trace[-1] - rss_trace[0], 1),
        "rss_every_2000_turns_mb": [round(mb, 1) for mb in rss_trace],
    }
    if len(snapshots) == 2:
        figures["allocation_growth_second_half"] = _allocation_growth(*snapshots)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--soak", type=int, default=10_000)
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()
    with fake_llm_process() as url:
        figures = asyncio.run(_measure(url, args))
    ask = figures["ask_ms"]
    call = figures["provider_call_ms"]
    roost = figures["roost_share_ms"]
    assert isinstance(ask, dict) and isinstance(call, dict) and isinstance(roost, dict)
    emit(
        figures,
        f"turn path (in process, router.ask): median {ask['median']:.2f} ms, "
        f"p95 {ask['p95']:.2f} ms over {args.turns} turns in one session; provider call "
        f"{call['median']:.2f} ms of it, Roost {roost['median']:.2f} ms (p95 {roost['p95']:.2f}); "
        f"{figures['turns_per_s_concurrent']} turns/s with {args.sessions} concurrent "
        f"sessions; RSS {figures['rss_before_soak_mb']} -> {figures['rss_after_soak_mb']} MB "
        f"over {figures['soak_turns']} turns "
        f"({figures['rss_growth_over_soak_mb']:+} MB; target <= 10)",
    )


if __name__ == "__main__":
    main()

"""Resident memory of a real `roost run` for one provider: idle, after the first call (the SDK
loaded, whether by the warm-up or by the call), and after N more turns.

Ten agents on one provider (the fake LLM answering at once), as in bench.gateway. The figures:

- ``idle_mb``: once /healthz answers and, where the build has one, the warm-up is done
- ``after_first_call_mb``: after one turn; for a build without a warm-up this is the first
  moment the SDK is in memory, so it is what compares with ``idle_mb`` of a build with one
- ``after_turns_mb``: after ``--turns`` more turns (50 sessions over the ten agents)

``--src`` runs another checkout's sources (e.g. a worktree at an older commit) with the same
method, so two builds compare like with like:

    python -m bench.rss [--provider anthropic|openai] [--turns 2000] [--src PATH/src]
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from bench.common import REPO, emit, fake_llm_process, roost_home
from bench.gateway import (
    _config,
    _connect,
    _rss_mb,
    _throughput,
    _wait_for_warm_up,
    roost_run,
)


async def _one_turn(ws_url: str) -> None:
    client = await _connect(ws_url, "bench-rss-first")
    await client.turn("agent0", "first", "hello")
    await client.ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--provider", choices=("anthropic", "openai"), default="openai")
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--src", type=Path, default=REPO / "src", help="the sources to run")
    args = parser.parse_args()
    src = args.src.resolve()
    with fake_llm_process() as url, roost_home(url) as (directory, env):
        _config(directory, url, args.provider)
        env = {**env, "PYTHONPATH": str(src)}
        with roost_run(directory, env) as (process, http, _):
            ws_url = http.replace("http://", "ws://") + "/ws"
            _wait_for_warm_up(http)
            idle = _rss_mb(process.pid)
            asyncio.run(_one_turn(ws_url))
            first = _rss_mb(process.pid)
            each = max(1, args.turns // args.sessions)
            asyncio.run(_throughput(ws_url, args.sessions, each))
            after = _rss_mb(process.pid)
    figures = {
        "provider": args.provider,
        "src": os.path.relpath(src, REPO) if src.is_relative_to(REPO) else str(src),
        "idle_mb": round(idle, 1),
        "after_first_call_mb": round(first, 1),
        "turns": each * args.sessions,
        "after_turns_mb": round(after, 1),
    }
    emit(
        figures,
        f"rss ({args.provider}, {figures['src']}): idle {idle:.1f} MB, after the first call "
        f"{first:.1f} MB, after {each * args.sessions} more turns {after:.1f} MB",
    )


if __name__ == "__main__":
    main()

"""A scripted 50-turn conversation with tool calls on the Anthropic API: what it costs.

The whole stack (App, agent turn, Anthropic SDK) against the fake LLM, which
simulates Anthropic's documented prompt caching (``tests.fakes.fake_llm.prompt_cache``:
breakpoints, the per-model minimum prefix, the 20-block lookback, 5-minute TTL) and
answers summary requests with a deterministic summariser. The agent has
``max_context_tokens: 8000``; turn 1 states a fact, every third turn reads a file.
Figures, for caching + compaction on (Roost's defaults) and for both off:

- input tokens billed (uncached + cache read + cache write) and the share read from
  the cache (issue #13 target: >= 70 %), with compaction (summary) calls included;
- the cost in USD at the model's published rates (genai-prices), and the saving;
- whether the fact from turn 1 still reaches the model in turn 50 (a boolean).

    python -m bench.cache_conversation [--turns 50] [--model claude-sonnet-4-5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from bench.common import emit
from roost.app import App
from roost.config.loader import load_settings
from tests.fakes.fake_llm.script import RecordedRequest, ScriptedAnswer, TextAnswer, ToolCallAnswer
from tests.fakes.fake_llm.summariser import is_summary_request, summarise
from tests.fakes.llm_server import FakeLLM, running_fake_llm

FACT = "Please remember that my sister's name is Ingrid and she lives in Tromsø."
FACT_KEY = "Ingrid"
SYSTEM = (
    "You are a personal assistant running in Roost. Answer briefly and precisely; "
    "use the file tools to look things up in the workspace when asked. "
) * 12  # an ordinary agent prompt, ~250 tokens
CHATTER = (
    "Today I mostly worked on the garden plan and some correspondence; nothing urgent, "
    "but I would like your thoughts on how to organise the coming week. "
)
ANSWER = (
    "Here is a short plan: keep the mornings for focused work, batch the errands in one "
    "afternoon, and leave Friday open for anything that slipped. "
)
NOTES = "Shopping: apples, coffee, paper. Calls: plumber on Tuesday, dentist later. " * 20
_TURN = re.compile(r"Turn (\d+)\.")


def _answer(record: RecordedRequest) -> ScriptedAnswer | None:
    """Summaries for summary requests; every third turn reads notes.txt first."""
    summary = summarise(record)
    if summary is not None:
        return summary
    messages = record.body["messages"]
    last = messages[-1]["content"]
    if isinstance(last, list) and last and last[-1].get("type") == "tool_result":
        return TextAnswer("From your notes: the plumber comes on Tuesday. " + ANSWER)
    text = last if isinstance(last, str) else " ".join(str(b.get("text", "")) for b in last)
    match = _TURN.search(text)
    if match and int(match.group(1)) % 3 == 0:
        return ToolCallAnswer("read_file", json.dumps({"path": "notes.txt"}))
    return TextAnswer(ANSWER * 2)


def _config(directory: Path, url: str, model: str, on: bool) -> Path:
    path = directory / "roost.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            home: {directory / "home"}
            providers:
              claude: {{type: anthropic, base_url: "{url}", api_key: bench,
                        prompt_cache: {"true" if on else "false"}}}
            agents:
              assistant:
                model: claude/{model}
                system: {json.dumps(SYSTEM)}
                tools: [read_file, list_files]
                max_context_tokens: 8000
                compaction: {"auto" if on else "off"}
            """
        ),
        encoding="utf-8",
    )
    return path


async def run_conversation(fake: FakeLLM, model: str, turns: int, on: bool) -> dict[str, Any]:
    """One scripted conversation in a fresh home; its figures (see the module docstring)."""
    fake.reset()
    fake.responder = _answer
    with tempfile.TemporaryDirectory(prefix="roost-bench-") as tmp:
        settings = load_settings(_config(Path(tmp), fake.url, model, on), env={})
        workspace = settings.agents["assistant"].workspace
        workspace.mkdir(parents=True, exist_ok=True)
        (workspace / "notes.txt").write_text(NOTES, encoding="utf-8")
        app = App(settings)
        await app.start()
        try:
            for turn in range(1, turns + 1):
                opening = f"{FACT} " if turn == 1 else ""
                result = await app.ask("assistant", f"{opening}Turn {turn}. {CHATTER}", "bench")
                if not result.ok:
                    raise RuntimeError(f"turn {turn} failed: {result.error}")
            totals = (await app.ledger.report()).total
        finally:
            await app.stop()
    turn_requests = [r for r in fake.requests if not is_summary_request(r)]
    last_turn = [r for r in turn_requests if f"Turn {turns}." in r.raw_body.decode()]
    billed = totals.input_tokens + totals.cache_read_tokens + totals.cache_write_tokens
    return {
        "model_calls": totals.calls,
        "summary_calls": sum(1 for r in fake.requests if is_summary_request(r)),
        "input_tokens_billed": billed,
        "uncached_input_tokens": totals.input_tokens,
        "cache_read_tokens": totals.cache_read_tokens,
        "cache_write_tokens": totals.cache_write_tokens,
        "cache_read_share": round(totals.cache_read_tokens / billed, 4) if billed else 0.0,
        "output_tokens": totals.output_tokens,
        "cost_usd": round(totals.cost_usd, 6),
        "unpriced_calls": totals.unpriced_calls,
        "fact_from_turn_1_in_last_turn": bool(last_turn)
        and all(FACT_KEY in r.raw_body.decode() for r in last_turn),
    }


async def measure(turns: int, model: str) -> dict[str, Any]:
    with running_fake_llm() as fake:
        on = await run_conversation(fake, model, turns, on=True)
        off = await run_conversation(fake, model, turns, on=False)
    saving = 1 - on["cost_usd"] / off["cost_usd"] if off["cost_usd"] else 0.0
    return {
        "turns": turns,
        "model": model,
        "max_context_tokens": 8000,
        "caching_and_compaction": on,
        "both_off": off,
        "cost_saving": round(saving, 4),
        "cache_share_target": 0.7,
        "cache_share_met": on["cache_read_share"] >= 0.7,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--model", default="claude-sonnet-4-5")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.turns, args.model))
    on, off = figures["caching_and_compaction"], figures["both_off"]
    emit(
        figures,
        f"{args.turns} turns on {args.model}: {on['input_tokens_billed']:,} input tokens, "
        f"{on['cache_read_share']:.0%} read from the cache (target >= 70%), "
        f"${on['cost_usd']:.4f} vs ${off['cost_usd']:.4f} with caching and compaction off "
        f"({figures['cost_saving']:.0%} less); turn-1 fact in turn {args.turns}: "
        f"{on['fact_from_turn_1_in_last_turn']} (off: {off['fact_from_turn_1_in_last_turn']})",
    )


if __name__ == "__main__":
    main()

"""How long recall takes over many notes, and what marking outside content adds.

SQLite with FTS5 (the default store): 10,000 notes for one agent (and as many for
another, which the search must skip), then recalls of a few words, each through the
store as the tool calls it. Also: the bytes ``untrusted()`` adds to a piece of content
and the system prompt's sentence about it, paid per request.

    python -m bench.memory_recall
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path

from bench.common import emit, summary
from roost.store.database import Database
from roost.store.memory import MemoryStore
from roost.tools.untrusted import UNTRUSTED_PREAMBLE, untrusted

NOTES = 10_000
RECALLS = 200
WORDS = [f"word{n}" for n in range(3000)]


async def measure() -> dict[str, object]:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="roost-bench-") as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'roost.db'}")
        await db.open()
        store = MemoryStore(db)
        try:
            started = time.perf_counter()
            for agent in ("a", "b"):
                for _ in range(NOTES):
                    text = " ".join(rng.choices(WORDS, k=30))
                    await store.add(agent, text, ("t",), NOTES * 2)
            remember_ms = (time.perf_counter() - started) * 1000 / (2 * NOTES)
            samples = []
            for _ in range(RECALLS):
                query = " ".join(rng.choices(WORDS, k=4))
                began = time.perf_counter()
                await store.search("a", query, 5)
                samples.append((time.perf_counter() - began) * 1000)
        finally:
            await db.close()
    return {
        "notes_per_agent": NOTES,
        "remember_ms_mean": round(remember_ms, 3),
        "recall_ms": summary(samples),
        "untrusted_overhead_bytes": len(untrusted("file notes.md", "")),
        "preamble_bytes": len(UNTRUSTED_PREAMBLE.encode()) + 2,
    }


def main() -> None:
    figures = asyncio.run(measure())
    recall = figures["recall_ms"]
    assert isinstance(recall, dict)
    emit(
        figures,
        f"recall over {NOTES:,} notes (FTS5): median {recall['median']:.2f} ms, "
        f"p95 {recall['p95']:.2f} ms; remember {figures['remember_ms_mean']} ms; "
        f"untrusted() adds {figures['untrusted_overhead_bytes']} B a piece, the system "
        f"prompt {figures['preamble_bytes']} B",
    )


if __name__ == "__main__":
    main()

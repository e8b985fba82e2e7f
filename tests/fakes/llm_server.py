"""A fake LLM server speaking the Anthropic Messages and OpenAI Chat Completions APIs.

It is a real HTTP server on loopback (Starlette served by uvicorn in a background
thread with its own event loop), so the official SDKs talk to it exactly as they
talk to the real APIs: streaming (SSE) and non-streaming, tool calls, usage,
errors in each API's own format, ``retry-after`` headers.

Typical use::

    with running_fake_llm() as llm:
        llm.reply("Hello there")
        llm.tool_call("read_file", {"path": "a.txt"})
        llm.fail(429, retry_after=0.01)
        ...  # point an SDK at llm.url (Anthropic) or llm.openai_url (OpenAI)
        assert llm.requests[0].body["model"] == "..."

Prompt caching is simulated after each API's documented rules (Anthropic: explicit
``cache_control`` breakpoints, at most 4, the per-model minimum prefix, the 20-block
lookback, a 5-minute TTL by ``llm.clock``; OpenAI: automatic caching of prefixes of
1,024+ tokens), and unscripted usage reports the cached part: see
``tests.fakes.fake_llm.prompt_cache`` for the rules and the token estimate.

Scripted answers form one FIFO queue shared by both APIs. When the queue is
empty the server answers ``echo: <last user text>``.

Standalone (for benchmarks)::

    python -m tests.fakes.llm_server --port 0

prints the URL on the first stdout line and serves until SIGTERM/SIGINT.

The implementation lives in the ``tests.fakes.fake_llm`` package.
"""

from __future__ import annotations

import sys

from tests.fakes.fake_llm.script import FakeUsage, RecordedRequest
from tests.fakes.fake_llm.server import FakeLLM, main, running_fake_llm

__all__ = [
    "FakeLLM",
    "FakeUsage",
    "RecordedRequest",
    "main",
    "running_fake_llm",
]


if __name__ == "__main__":
    sys.exit(main())

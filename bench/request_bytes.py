"""Bytes of the request body for a first "hello" with the three file tools.

Target (issue #2): <= 4,000 B. Measured on the wire by the fake LLM server, for both
API formats, through the real SDKs.

    python bench/request_bytes.py
"""

from __future__ import annotations

import asyncio

from bench.common import emit, roost_home
from roost.app import App
from roost.config.loader import load_settings
from tests.fakes.llm_server import running_fake_llm


async def measure() -> dict[str, object]:
    with running_fake_llm() as fake, roost_home(fake.url) as (directory, _):
        app = App(load_settings(directory / "roost.yaml", env={}))
        await app.start()
        figures: dict[str, object] = {}
        try:
            for agent, api in (("assistant", "anthropic"), ("coder", "openai")):
                fake.reset()
                await app.ask(agent, "hello", "bench")
                request = fake.last_request
                figures[f"{api}_request_bytes"] = len(request.raw_body)
                figures[f"{api}_tools"] = [
                    t.get("name") or t["function"]["name"] for t in request.body.get("tools", [])
                ]
        finally:
            await app.stop()
    return figures


def main() -> None:
    figures = asyncio.run(measure())
    emit(
        figures,
        f"first 'hello' with 3 file tools: Anthropic {figures['anthropic_request_bytes']:,} B, "
        f"OpenAI {figures['openai_request_bytes']:,} B (target <= 4,000 B; "
        "peers: nanobot 31,853 B, OpenClaw 50,564 B)",
    )


if __name__ == "__main__":
    main()

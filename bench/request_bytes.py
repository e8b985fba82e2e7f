"""Bytes of the request body for a first "hello": with the three file tools, and with every tool.

Target (issues #2 and #12): <= 4,000 B with all default tools enabled. Measured on the
wire by the fake LLM server, for both API formats, through the real SDKs. "Every tool"
is every name the configuration accepts (``known_tool_names``): the file tools,
delegation's, memory's, the scheduler's, shell, the web tools (with a SearXNG backend
configured, so that web_search is offered) and notify_owner (with a Telegram owner, so
that it is offered; Telegram itself is not served). The target is missed with 17 tools
(docs/tools.md says why); tests/tools/test_request_bytes.py holds both formats to a
ceiling just above today's figures, so they cannot grow unnoticed.

    python bench/request_bytes.py
"""

from __future__ import annotations

import asyncio
import json
import textwrap

from bench.common import emit, roost_home
from roost.app import App
from roost.builtin_features import BUILTIN_FEATURES, known_tool_names
from roost.config.loader import load_settings
from tests.fakes.llm_server import running_fake_llm

AGENTS = (
    ("assistant", "anthropic", ""),
    ("coder", "openai", ""),
    ("everything", "anthropic", "all_tools_"),
    ("everything_gpt", "openai", "all_tools_"),
)


def with_every_tool(config: str) -> str:
    """``config`` plus the agents ``everything`` (Anthropic) and ``everything_gpt``
    (OpenAI), each with every built-in tool, and what offers the optional ones."""
    tools = json.dumps(known_tool_names())
    return (
        config
        + textwrap.indent(
            textwrap.dedent(
                f"""\
            everything: {{model: claude/claude-haiku-4-5, tools: {tools}}}
            everything_gpt: {{model: gpt/gpt-5-mini, tools: {tools}}}
            """
            ),
            "  ",
        )
        + "web_search: {backend: searxng, url: 'http://127.0.0.1:9/search'}\n"
        + "telegram: {token: '123456:bench', allowed_users: [1001]}\n"
    )


async def measure() -> dict[str, object]:
    with running_fake_llm() as fake, roost_home(fake.url) as (directory, _):
        path = directory / "roost.yaml"
        path.write_text(with_every_tool(path.read_text(encoding="utf-8")), encoding="utf-8")
        settings = load_settings(path, env={})
        # The scheduler's tools without serving: as `roost jobs run` builds it (not started).
        scheduler = [f.load() for f in BUILTIN_FEATURES if f.name == "scheduler"]
        app = App(settings, scheduler)
        await app.start()
        figures: dict[str, object] = {}
        try:
            for agent, api, prefix in AGENTS:
                fake.reset()
                await app.ask(agent, "hello", "bench")
                request = fake.last_request
                figures[f"{prefix}{api}_request_bytes"] = len(request.raw_body)
                figures[f"{prefix}{api}_tools"] = [
                    t.get("name") or t["function"]["name"] for t in request.body.get("tools", [])
                ]
        finally:
            await app.stop()
    return figures


def main() -> None:
    figures = asyncio.run(measure())
    every = figures["all_tools_anthropic_tools"]
    assert isinstance(every, list)
    emit(
        figures,
        f"first 'hello' with 3 file tools: Anthropic {figures['anthropic_request_bytes']:,} B, "
        f"OpenAI {figures['openai_request_bytes']:,} B; with all {len(every)} tools: "
        f"Anthropic {figures['all_tools_anthropic_request_bytes']:,} B, "
        f"OpenAI {figures['all_tools_openai_request_bytes']:,} B (target <= 4,000 B; "
        "peers: nanobot 31,853 B, OpenClaw 50,564 B)",
    )


if __name__ == "__main__":
    main()

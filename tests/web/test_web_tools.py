"""http_fetch and web_search through the whole stack: config, App, fake LLM, real HTTP."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from roost.app import App
from roost.config.errors import ConfigError
from roost.config.loader import load_settings
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM
from tests.fakes.web_server import serving
from tests.web.site import Site

BRAVE_KEY = "brave-key-7f3a9c"


class FakeSearch:
    """A SearXNG (``/search``) and a Brave Search API (``/brave``) on one server."""

    def __init__(self) -> None:
        self.queries: list[dict[str, str]] = []
        self.status = 200

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/search", self._searxng), Route("/brave", self._brave)])

    async def _searxng(self, request: Request) -> Response:
        self.queries.append(dict(request.query_params))
        results = [
            {
                "title": f"Result <b>{n}</b>",
                "url": f"https://example.com/{n}",
                "content": "A &amp; B",
            }
            for n in range(1, 9)
        ]
        return JSONResponse({"query": request.query_params["q"], "results": results}, self.status)

    async def _brave(self, request: Request) -> Response:
        if request.headers.get("x-subscription-token") != BRAVE_KEY:
            return JSONResponse({"error": "unauthorized"}, 401)
        self.queries.append(dict(request.query_params))
        hit = {
            "title": "Brave hit",
            "url": "https://brave.example/",
            "description": "<strong>x</strong>",
        }
        return JSONResponse({"web": {"results": [hit]}}, self.status)


@pytest.fixture
async def site_url() -> AsyncIterator[str]:
    async with serving(Site().app()) as url:
        yield url


@pytest.fixture
def search() -> FakeSearch:
    return FakeSearch()


@pytest.fixture
async def search_url(search: FakeSearch) -> AsyncIterator[str]:
    async with serving(search.app()) as url:
        yield url


def web_config(fake_llm: FakeLLM, tmp_path: Path, web_search: str = "") -> str:
    return (
        provider_yaml(fake_llm)
        + f"""\
home: {tmp_path / "home"}
agents:
  reader:
    model: claude/claude-haiku-4-5
    tools: [read_file, http_fetch]
    fetch: {{allow_private: ["127.0.0.1"]}}
  stranger:
    model: gpt/gpt-5-mini
    tools: [http_fetch{", web_search" if web_search else ""}]
{web_search}"""
    )


async def ask(app: App, agent: str, text: str) -> str:
    result = await asyncio.wait_for(app.ask(agent, text, f"{agent}-session"), timeout=30)
    assert result.ok
    return result.text


def tool_names(body: dict[str, object]) -> list[str]:
    tools = body.get("tools") or []
    assert isinstance(tools, list)
    return [t.get("name") or t["function"]["name"] for t in tools]


async def test_a_page_reaches_the_model_as_untrusted_text_and_private_addresses_need_listing(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path, site_url: str
) -> None:
    settings = load_settings(write_config(web_config(fake_llm, tmp_path)), env=os.environ)
    app = App(settings)
    await app.start()
    try:
        fake_llm.tool_call("http_fetch", {"url": f"{site_url}/page"})
        fake_llm.reply("Read it.")
        assert await ask(app, "reader", "read the page") == "Read it."
        sent = json.dumps(fake_llm.requests[1].body)
        assert f'<untrusted source=\\"web {site_url}/page\\">' in sent
        assert "# Hello" in sent and "steal()" not in sent
        assert tool_names(fake_llm.requests[0].body) == ["read_file", "http_fetch"]
        # The same URL for an agent whose config does not list 127.0.0.1.
        fake_llm.reset()
        fake_llm.tool_call("http_fetch", {"url": f"{site_url}/page"})
        fake_llm.reply("Could not.")
        assert await ask(app, "stranger", "read the page") == "Could not."
        sent = json.dumps(fake_llm.requests[1].body)
        assert "127.0.0.1 is a loopback address" in sent and "# Hello" not in sent
        assert tool_names(fake_llm.requests[0].body) == ["http_fetch"]  # no web_search
    finally:
        await app.stop(grace_s=1)


def test_listing_web_search_without_a_backend_is_a_config_error(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    text = web_config(fake_llm, tmp_path).replace("[http_fetch]", "[http_fetch, web_search]")
    with pytest.raises(ConfigError) as error:
        load_settings(write_config(text), env=os.environ)
    assert "agents.stranger.tools: web_search needs a search backend" in str(error.value)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("web_search: {backend: searxng}", "backend searxng needs url"),
        ("web_search: {backend: brave}", "backend brave needs api_key"),
        ("web_search: {backend: bing, url: http://x}", "web_search.backend"),
        ("web_search: {backend: searxng, url: ftp://x}", "url should start with http"),
    ],
)
def test_a_search_backend_without_what_it_needs_is_a_config_error(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path, section: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(write_config(web_config(fake_llm, tmp_path, section)), env=os.environ)
    assert expected in str(error.value)


async def test_web_search_through_searxng(
    fake_llm: FakeLLM,
    write_config: ConfigWriter,
    tmp_path: Path,
    search: FakeSearch,
    search_url: str,
) -> None:
    section = f"web_search: {{backend: searxng, url: {search_url}/search}}"
    settings = load_settings(write_config(web_config(fake_llm, tmp_path, section)), env=os.environ)
    app = App(settings)
    await app.start()
    try:
        fake_llm.tool_call("web_search", {"query": "roost agents", "limit": 3})
        fake_llm.reply("Found.")
        assert await ask(app, "stranger", "search") == "Found."
        assert tool_names(fake_llm.requests[0].body) == ["http_fetch", "web_search"]
        assert search.queries == [{"q": "roost agents", "format": "json"}]
        result = fake_llm.requests[1].body["messages"][-1]["content"]
        assert result.startswith('<untrusted source="web search (searxng)">\n1. Result 1\n')
        assert "   https://example.com/3\n   A & B" in result
        assert "https://example.com/4" not in result  # limit 3
        search.status = 500
        fake_llm.tool_call("web_search", {"query": "again"})
        fake_llm.reply("Failed.")
        assert await ask(app, "stranger", "search") == "Failed."
        assert "the search backend answered HTTP 500" in json.dumps(fake_llm.last_request.body)
    finally:
        await app.stop(grace_s=1)


async def test_web_search_through_brave_keeps_its_key_out_of_results(
    fake_llm: FakeLLM,
    write_config: ConfigWriter,
    tmp_path: Path,
    search: FakeSearch,
    search_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BRAVE_API_KEY", BRAVE_KEY)
    section = (
        f"web_search: {{backend: brave, url: {search_url}/brave, api_key: '${{BRAVE_API_KEY}}'}}"
    )
    settings = load_settings(write_config(web_config(fake_llm, tmp_path, section)), env=os.environ)
    app = App(settings)
    await app.start()
    try:
        fake_llm.tool_call("web_search", {"query": "roost"})
        search.status = 200
        fake_llm.reply("Found.")
        assert await ask(app, "stranger", "search") == "Found."
        assert search.queries == [{"q": "roost", "count": "5"}]
        result = json.dumps(fake_llm.requests[1].body)
        assert "1. Brave hit\\n   https://brave.example/\\n   x" in result
        search.status = 503
        fake_llm.tool_call("web_search", {"query": "roost"})
        fake_llm.reply("Failed.")
        await ask(app, "stranger", "search")
        sent = json.dumps([request.body for request in fake_llm.requests])
        assert "answered HTTP 503" in sent and BRAVE_KEY not in sent
    finally:
        await app.stop(grace_s=1)

"""The web feature: ``http_fetch`` and, with a configured backend, ``web_search``.

Present in every process that runs turns when an agent lists one of its tools
(``roost.builtin_features``). What each agent may fetch is its own
``agents.<name>.fetch``; the search backend is the process's ``web_search:``.
Without a backend the feature does not offer ``web_search`` (the model never sees
it), and the configuration check refuses an agent that lists it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pydantic import BaseModel, Field

from roost.config.schema import FetchConfig
from roost.features import Feature
from roost.ports import CorePorts
from roost.tools.registry import Tool, ToolContext, ToolError
from roost.tools.untrusted import untrusted
from roost.web.addresses import AddressPolicy, Resolver, system_resolver
from roost.web.fetch import Fetcher, FetchFailed, FetchLimits, Page
from roost.web.search import SearchFailed, WebSearch, format_results

MAX_TEXT_CHARS = 40_000
"""Of a page's text, what the model gets (a page is read as ~4 characters a token)."""
HTML_TYPES = ("text/html", "application/xhtml+xml")


MAX_URL_CHARS = 4000
MAX_QUERY_CHARS = 500
"""Checked by the handlers: a ``maxLength`` in the schema is paid on every request."""


class FetchArgs(BaseModel):
    url: str = Field(min_length=1)


class SearchArgs(BaseModel):
    query: str = Field(min_length=1)
    limit: int = Field(default=5, ge=1, le=20)


class WebFeature(Feature):
    name = "web"

    def __init__(self, core: CorePorts, *, resolver: Resolver = system_resolver) -> None:
        self._settings = core.settings
        self._fetcher = Fetcher(resolver)
        config = core.settings.web_search
        self._search = WebSearch(config) if config is not None else None

    def tools(self) -> Sequence[Tool]:
        fetch = Tool("http_fetch", "GET an http(s) URL as readable text.", FetchArgs, self._fetch)
        if self._search is None:
            return [fetch]
        return [fetch, Tool("web_search", "Search the web.", SearchArgs, self._web_search)]

    async def stop(self) -> None:
        await self._fetcher.aclose()
        if self._search is not None:
            await self._search.aclose()

    async def _fetch(self, context: ToolContext, args: FetchArgs) -> str:
        if len(args.url) > MAX_URL_CHARS:
            raise ToolError(f"http_fetch: the URL is longer than {MAX_URL_CHARS} characters")
        agent = self._settings.agents.get(context.agent)
        config = agent.fetch if agent is not None else FetchConfig()
        policy = AddressPolicy.allowing(config.allow_private)
        limits = FetchLimits(config.max_bytes, config.timeout_s)
        try:
            page = await self._fetcher.fetch(args.url, policy, limits)
        except FetchFailed as exc:
            raise ToolError(f"http_fetch {args.url[:200]}: {exc}") from None
        return untrusted(f"web {page.url}", await readable(page))

    async def _web_search(self, context: ToolContext, args: SearchArgs) -> str:
        assert self._search is not None  # offered only with a backend
        if len(args.query) > MAX_QUERY_CHARS:
            raise ToolError(f"web_search: the query is longer than {MAX_QUERY_CHARS} characters")
        try:
            results = await self._search.search(args.query, args.limit)
        except SearchFailed as exc:
            raise ToolError(f"web_search: {exc}") from None
        return untrusted(f"web search ({self._search.backend})", format_results(results))


async def readable(page: Page) -> str:
    """The page's text (Markdown for HTML), capped, with a note on what was cut."""
    text = page.text
    if page.content_type in HTML_TYPES:
        from roost.web.extract import html_to_markdown

        text = await asyncio.to_thread(html_to_markdown, text, page.url)
    notes = []
    if page.truncated:
        notes.append("the page was longer than the size limit; its start is shown")
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        notes.append(f"text cut at {MAX_TEXT_CHARS} characters")
    return text + "".join(f"\n[{note}]" for note in notes)

"""``web_search``'s backends: a self-hosted SearXNG, or the Brave Search API.

The backend's URL is the owner's own configuration, so it is not held to
``http_fetch``'s address rules (a SearXNG is usually on the same machine or LAN).
Answers are read up to ``MAX_ANSWER_BYTES``; error messages name the failure, never
the URL or the key.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

from roost.config.schema import WebSearchConfig

BRAVE_URL = "https://api.search.brave.com/res/v1/web/search"
MAX_ANSWER_BYTES = 2_000_000
MAX_SNIPPET_CHARS = 300
_TAGS = re.compile(r"<[^>]{0,200}>")


class SearchFailed(Exception):
    """The backend gave no results; the message is for the model."""


@dataclass(frozen=True)
class SearchResult:
    title: str
    url: str
    snippet: str


class WebSearch:
    def __init__(self, config: WebSearchConfig) -> None:
        self.backend = config.backend
        self._config = config
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._config.timeout_s, trust_env=False)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def search(self, query: str, limit: int) -> list[SearchResult]:
        if self.backend == "brave":
            key = self._config.api_key.get_secret_value() if self._config.api_key else ""
            answer = await self._get(
                self._config.url or BRAVE_URL,
                {"q": query, "count": str(limit)},
                {"X-Subscription-Token": key, "Accept": "application/json"},
            )
            found = (answer.get("web") or {}).get("results") or []
            return _results(found, "description", limit)
        answer = await self._get(
            self._config.url or "", {"q": query, "format": "json"}, {"Accept": "application/json"}
        )
        return _results(answer.get("results") or [], "content", limit)

    async def _get(self, url: str, params: dict[str, str], headers: dict[str, str]) -> Any:
        try:
            async with self._http().stream("GET", url, params=params, headers=headers) as answer:
                if answer.status_code != 200:
                    raise SearchFailed(f"the search backend answered HTTP {answer.status_code}")
                body = bytearray()
                async for chunk in answer.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise SearchFailed("the search backend's answer is too large")
        except httpx.TimeoutException:
            raise SearchFailed("the search backend did not answer in time") from None
        except httpx.HTTPError as exc:
            raise SearchFailed(f"cannot reach the search backend ({type(exc).__name__})") from None
        try:
            parsed = json.loads(body)
        except ValueError:
            raise SearchFailed("the search backend's answer is not JSON") from None
        if not isinstance(parsed, dict):
            raise SearchFailed("the search backend's answer is not a JSON object")
        return parsed


def _results(found: Any, snippet_key: str, limit: int) -> list[SearchResult]:
    results = []
    for item in found if isinstance(found, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            continue
        snippet = _plain(item.get(snippet_key))[:MAX_SNIPPET_CHARS]
        results.append(SearchResult(_plain(item.get("title")), item["url"], snippet))
        if len(results) >= limit:
            break
    return results


def _plain(value: Any) -> str:
    """Text of a title or snippet: backends mark matches with HTML (``<strong>``)."""
    text = html.unescape(_TAGS.sub("", value)) if isinstance(value, str) else ""
    return " ".join(text.split())


def format_results(results: list[SearchResult]) -> str:
    if not results:
        return "no results"
    return "\n".join(
        f"{index}. {result.title or '(untitled)'}\n   {result.url}\n   {result.snippet}".rstrip()
        for index, result in enumerate(results, 1)
    )

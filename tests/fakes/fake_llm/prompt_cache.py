"""Prompt caching as the fake simulates it, after each API's documented rules.

Token estimate (deterministic, documented here because tests and benchmarks rely on
it): a request's whole prompt is ``len(raw body) // 4`` tokens (as before caching
was simulated); a prefix's size is the sum over its blocks of ``len(compact JSON of
the block without cache_control) // 4``, at least 1 per block. Only the split
between cached and uncached input depends on the prefixes.

Anthropic (explicit caching, https://docs.anthropic.com prompt caching):

- The prompt is a sequence of blocks in the order tools -> system -> messages; a
  block carrying ``cache_control`` is a breakpoint. More than 4 breakpoints is a 400.
- A breakpoint's prefix (everything up to and including its block) is written to
  the cache only if it holds at least the model's minimum: 1,024 tokens
  (Sonnet/Opus-class), 2,048 (Haiku 3/3.5-class), 4,096 (Haiku 4.5, Opus 4.5+),
  2,048 (Sonnet 4.6). Below it nothing is cached and nothing fails.
- On a request, each breakpoint looks for a cached prefix ending at its own block
  or at any of the 20 blocks before it (the lookback); the longest hit is read.
- Entries live 5 minutes from their last use (by ``clock``, seconds).
- Usage: ``cache_read_input_tokens`` = the hit's prefix; ``cache_creation_input_tokens``
  = from there to the last cacheable breakpoint; ``input_tokens`` = the rest.

OpenAI (automatic caching): every prefix at a block (tool or message) boundary is
remembered; a later request sharing a remembered prefix of at least 1,024 tokens
reports it as ``cached_tokens``, rounded down to 1,024 + a multiple of 128.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20
TTL_S = 300.0
OPENAI_MINIMUM = 1024
OPENAI_INCREMENT = 128

Clock = Callable[[], float]


@dataclass(frozen=True)
class PromptSplit:
    """A prompt's input tokens split as the API reports them."""

    uncached: int
    cache_read: int = 0
    cache_write: int = 0


class TooManyBreakpoints(ValueError):
    """More ``cache_control`` blocks than the API allows (it answers 400)."""


def minimum_cacheable(model: str) -> int:
    """The documented minimum cacheable prefix of an Anthropic model, in tokens."""
    name = model.lower()
    if any(tag in name for tag in ("haiku-4-5", "opus-4-5", "opus-4-6")):
        return 4096
    if "haiku" in name or "sonnet-4-6" in name:
        return 2048
    return 1024


_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""Built once: ``json.dumps`` with options builds an encoder per call."""
_REMEMBERED_BLOCKS = 100_000


class _BlockSizes:
    """Each distinct block's size in tokens and its digest, remembered across requests.

    A conversation sends every earlier block again with each request; encoding them all
    again (the size is measured on the block's compact JSON) made the fake's time grow
    with the history and showed as the "provider call" in benchmarks. A block of plain
    values is looked up by its items instead (key order only matters for finding it
    again, not for the result); others are encoded each time.
    """

    def __init__(self) -> None:
        self._known: dict[Hashable, tuple[int, bytes]] = {}

    def measure(self, where: str, block: Any) -> tuple[int, bytes]:
        """(tokens, digest) of ``block`` found at ``where`` (its role, or tool/system)."""
        key: Hashable | None = None
        if type(block) is dict:
            try:
                # Plain values only (a list or dict inside is unhashable: encoded each time).
                # 1 and true would share a key; no client sends both for one field.
                key = (where, *block.items())
                known = self._known.get(key)
            except TypeError:
                key = known = None
            if known is not None:
                return known
        data = _COMPACT.encode(block).encode()
        measured = (max(1, len(data) // 4), hashlib.sha256(f"{where}\0".encode() + data).digest())
        if key is not None:
            if len(self._known) >= _REMEMBERED_BLOCKS:
                self._known.clear()
            self._known[key] = measured
        return measured


class _Chain:
    """A request's blocks in order: each prefix's size, the marks, and the prefix keys
    (a hash over the blocks' digests), computed only for the blocks asked about."""

    def __init__(self, parts: Iterator[tuple[str, Any]], sizes: _BlockSizes) -> None:
        self.ends: list[int] = []
        """Tokens of the prefix through each block."""
        self.marked: list[bool] = []
        self._digests: list[bytes] = []
        end = 0
        for where, raw in parts:
            block, marked = _without_mark(raw)
            tokens, digest = sizes.measure(where, block)
            end += tokens
            self.ends.append(end)
            self.marked.append(marked)
            self._digests.append(digest)

    def __len__(self) -> int:
        return len(self.ends)

    def keys(self, indices: Iterable[int]) -> dict[int, bytes]:
        """The cache key of the prefix through each of ``indices``."""
        wanted = set(indices)
        found: dict[int, bytes] = {}
        running = hashlib.sha256()
        for index, digest in enumerate(self._digests[: max(wanted, default=-1) + 1]):
            running.update(digest)
            if index in wanted:
                found[index] = running.copy().digest()
        return found


def _without_mark(block: Any) -> tuple[Any, bool]:
    if isinstance(block, dict) and "cache_control" in block:
        return {k: v for k, v in block.items() if k != "cache_control"}, True
    return block, False


def _anthropic_parts(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for tool in body.get("tools") or []:
        yield "tool", tool
    system = body.get("system")
    if isinstance(system, str) and system:
        yield "system", {"type": "text", "text": system}
    elif isinstance(system, list):
        for block in system:
            yield "system", block
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        role = str(message.get("role"))
        content = message.get("content")
        if isinstance(content, str):
            yield role, {"type": "text", "text": content}
        elif isinstance(content, list):
            for block in content:
                yield role, block


class _Entries:
    """Cached prefixes by key, each with its size and expiry (thread-safe)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._expires: dict[bytes, float] = {}

    def hit(self, key: bytes) -> bool:
        """Whether ``key`` is cached; a hit is refreshed (TTL from last use)."""
        now = self.clock()
        with self._lock:
            expires = self._expires.get(key)
            if expires is None or expires <= now:
                self._expires.pop(key, None)
                return False
            self._expires[key] = now + TTL_S
            return True

    def put(self, key: bytes) -> None:
        with self._lock:
            self._expires[key] = self.clock() + TTL_S

    def clear(self) -> None:
        with self._lock:
            self._expires.clear()


class AnthropicPromptCache:
    """Anthropic's explicit prompt caching (see the module docstring)."""

    def __init__(self, clock: Clock) -> None:
        self._entries = _Entries(clock)
        self._sizes = _BlockSizes()

    def clear(self) -> None:
        self._entries.clear()

    @staticmethod
    def check(body: Any) -> None:
        """Raise ``TooManyBreakpoints`` for a request the API would refuse."""
        if not isinstance(body, dict):
            return
        found = sum(1 for _, block in _anthropic_parts(body) if _without_mark(block)[1])
        if found > MAX_BREAKPOINTS:
            raise TooManyBreakpoints(
                f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                f"Found {found}."
            )

    def split(self, body: Any, total: int) -> PromptSplit:
        """How ``total`` prompt tokens divide into uncached, read and written."""
        if not isinstance(body, dict):
            return PromptSplit(total)
        chain = _Chain(_anthropic_parts(body), self._sizes)
        marks = [i for i, marked in enumerate(chain.marked) if marked]
        looked_at = {
            index
            for mark in marks
            for index in range(mark, max(-1, mark - LOOKBACK_BLOCKS - 1), -1)
        }
        keys = chain.keys(looked_at)
        read = self._longest_hit(chain, keys, marks)
        minimum = minimum_cacheable(str(body.get("model", "")))
        written = 0
        for index in marks:
            if chain.ends[index] >= minimum:
                self._entries.put(keys[index])
                written = max(written, chain.ends[index] - read)
        read, written = min(read, total), min(written, max(0, total - read))
        return PromptSplit(total - read - written, read, written)

    def _longest_hit(self, chain: _Chain, keys: dict[int, bytes], marks: list[int]) -> int:
        checked: set[int] = set()
        for mark in sorted(marks, reverse=True):
            for index in range(mark, max(-1, mark - LOOKBACK_BLOCKS - 1), -1):
                if index in checked:
                    continue
                checked.add(index)
                if self._entries.hit(keys[index]):
                    return chain.ends[index]  # later marks are tried first: the longest
        return 0


def _openai_parts(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for tool in body.get("tools") or []:
        yield "tool", tool
    for message in body.get("messages") or []:
        yield "message", message


class OpenAIPromptCache:
    """OpenAI's automatic prefix caching (see the module docstring)."""

    def __init__(self, clock: Clock) -> None:
        self._entries = _Entries(clock)
        self._sizes = _BlockSizes()

    def clear(self) -> None:
        self._entries.clear()

    def split(self, body: Any, total: int) -> PromptSplit:
        if not isinstance(body, dict):
            return PromptSplit(total)
        chain = _Chain(_openai_parts(body), self._sizes)
        long_enough = [i for i, end in enumerate(chain.ends) if end >= OPENAI_MINIMUM]
        keys = chain.keys(long_enough)
        cached = 0
        for index in reversed(long_enough):
            if self._entries.hit(keys[index]):
                cached = chain.ends[index]
                break
        for index in long_enough:
            self._entries.put(keys[index])
        if cached:
            cached = OPENAI_MINIMUM + (cached - OPENAI_MINIMUM) // OPENAI_INCREMENT * 128
        cached = min(cached, total)
        return PromptSplit(total - cached, cache_read=cached)

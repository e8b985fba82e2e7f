"""The scripting and recording side of the fake: queued answers and received requests.

Nothing here knows about HTTP or either wire format; the server turns each
request into a :class:`RecordedRequest` and asks :meth:`LLMScript.next_answer`
what to say.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from tests.fakes.fake_llm.prompt_cache import (
    AnthropicPromptCache,
    OpenAIPromptCache,
    PromptSplit,
)

Api = Literal["anthropic", "openai"]


@dataclass(frozen=True)
class FakeUsage:
    """Token counts the fake reports, in the neutral (Anthropic-like) sense.

    ``input_tokens`` is *uncached* input. On the OpenAI API this is sent as
    ``prompt_tokens = input_tokens + cache_read`` with
    ``prompt_tokens_details.cached_tokens = cache_read``; OpenAI has no cache-write
    count, so ``cache_write`` is not sent there (and is recorded as 0 in
    ``RecordedRequest.usage_sent``).
    """

    input_tokens: int
    output_tokens: int
    cache_read: int = 0
    cache_write: int = 0


@dataclass
class RecordedRequest:
    """One HTTP request the fake received (recorded before any delay or error)."""

    path: str
    headers: dict[str, str]
    """Header names are lower-case."""
    body: Any
    """Parsed JSON body (``None`` if it was not JSON)."""
    raw_body: bytes
    api: Api
    stream: bool = False
    status: int = 200
    """HTTP status the fake answered with."""
    usage_sent: FakeUsage | None = None
    """Usage the fake reported for this request (``None`` for errors)."""
    response_text: str | None = None
    """Text the fake answered with (``None`` for errors)."""
    prompt: PromptSplit | None = None
    """The prompt's tokens split into uncached, cache read and cache write (see
    ``prompt_cache``); ``None`` when not computed (then all input is uncached)."""


@dataclass(frozen=True)
class TextAnswer:
    text: str
    usage: FakeUsage | None = None
    overloaded_midway: bool = False
    """Stream the text, then an ``overloaded_error`` event instead of the end (Anthropic)."""


@dataclass(frozen=True)
class ToolCallAnswer:
    name: str
    arguments: str
    """Sent as is, so it may be invalid JSON."""
    text: str = ""
    call_id: str | None = None
    usage: FakeUsage | None = None


@dataclass(frozen=True)
class FailureAnswer:
    status: int
    message: str | None
    retry_after: float | None


Answer = TextAnswer | ToolCallAnswer
ScriptedAnswer = Answer | FailureAnswer


def usage_for(record: RecordedRequest, answer: Answer) -> FakeUsage:
    """The scripted usage, or a rough estimate of about four bytes per token, the input
    split by the simulated prompt cache (``prompt_cache``)."""
    if answer.usage is not None:
        return answer.usage
    produced = len(answer.text)
    if isinstance(answer, ToolCallAnswer):
        produced += len(answer.arguments)
    prompt = record.prompt or PromptSplit(prompt_tokens(record.raw_body))
    return FakeUsage(
        input_tokens=prompt.uncached,
        output_tokens=max(1, produced // 4),
        cache_read=prompt.cache_read,
        cache_write=prompt.cache_write,
    )


def prompt_tokens(raw_body: bytes) -> int:
    """The fake's estimate of a request's whole prompt: four bytes per token."""
    return max(1, len(raw_body) // 4)


def _content_text(content: Any) -> str:
    """Text of a message ``content`` (a string or a list of blocks / parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _last_user_text(body: Any) -> str:
    """The last user-authored text in a request (tool-result-only turns are skipped)."""
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            text = _content_text(message.get("content"))
            if text:
                return text
    return ""


class LLMScript:
    """A FIFO queue of answers shared by both APIs, and the requests received so far.

    Thread-safe: tests script and inspect from their thread while the server
    answers from its own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: deque[ScriptedAnswer] = deque()
        self._next_delay = 0.0
        self._stopping = threading.Event()
        """Set while the server stops, so pending delays end at once."""
        self.requests: list[RecordedRequest] = []
        self.max_recorded: int | None = None
        """Keep only this many newest requests (a long-running standalone fake)."""
        self.openai_stream_usage = True
        """Set False to mimic servers that ignore ``stream_options.include_usage``."""
        self.responder: Callable[[RecordedRequest], ScriptedAnswer | None] | None = None
        """Asked for an answer when nothing is queued (``None`` from it: the echo); lets a
        test or benchmark answer from what each request contains."""
        self.clock: Callable[[], float] = time.monotonic
        """Seconds, for the prompt caches' 5-minute TTL (a test may swap in a manual clock)."""
        self.anthropic_cache = AnthropicPromptCache(lambda: self.clock())
        self.openai_cache = OpenAIPromptCache(lambda: self.clock())

    def reply(
        self, text: str, *, usage: FakeUsage | None = None, overloaded_midway: bool = False
    ) -> None:
        """Queue a plain text answer; ``overloaded_midway``: its stream breaks after the
        text with Anthropic's mid-stream ``overloaded_error`` event."""
        with self._lock:
            self._script.append(TextAnswer(text, usage, overloaded_midway))

    def tool_call(
        self,
        name: str,
        arguments: dict[str, Any] | str,
        *,
        text: str = "",
        call_id: str | None = None,
        usage: FakeUsage | None = None,
    ) -> None:
        """Queue an answer that calls tool ``name`` (after optional ``text``).

        A ``str`` ``arguments`` is sent raw, so invalid JSON can be tested.
        """
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        with self._lock:
            self._script.append(ToolCallAnswer(name, raw, text, call_id, usage))

    def fail(
        self,
        status: int,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        """Queue ``times`` HTTP error answers in the API's own error format.

        ``retry_after`` (seconds, may be fractional) sets the ``retry-after`` header.
        """
        with self._lock:
            self._script.extend(FailureAnswer(status, message, retry_after) for _ in range(times))

    def delay(self, seconds: float) -> None:
        """Make the next answer (of any kind) wait ``seconds`` before responding."""
        with self._lock:
            self._next_delay = seconds

    def reset(self) -> None:
        """Forget queued answers, the pending delay, recorded requests and cached prompts;
        usage on again, the real clock back."""
        with self._lock:
            self._script.clear()
            self._next_delay = 0.0
            self.requests.clear()
            self.openai_stream_usage = True
            self.clock = time.monotonic
            self.responder = None
        self.anthropic_cache.clear()
        self.openai_cache.clear()

    @property
    def pending(self) -> int:
        """How many scripted answers are still queued."""
        with self._lock:
            return len(self._script)

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            if not self.requests:
                raise AssertionError("the fake LLM has received no requests")
            return self.requests[-1]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``count`` requests were recorded; return them all."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} requests, got {len(self.requests)}")
            time.sleep(0.005)

    def record_refused(self, record: RecordedRequest) -> None:
        """Record a request refused before any scripted answer was used (a 400)."""
        with self._lock:
            self.requests.append(record)

    async def next_answer(self, record: RecordedRequest) -> ScriptedAnswer:
        """Record ``record``, then (after any pending delay) say what to answer.

        With nothing queued the ``responder`` answers, else the request's last user text
        is echoed.
        """
        with self._lock:
            self.requests.append(record)
            if self.max_recorded is not None and len(self.requests) > 2 * self.max_recorded:
                del self.requests[: -self.max_recorded]
            answer = self._script.popleft() if self._script else None
            delay, self._next_delay = self._next_delay, 0.0
            responder = self.responder
        if answer is None and responder is not None:
            answer = responder(record)
        if answer is None:
            answer = TextAnswer(f"echo: {_last_user_text(record.body)}")
        if delay > 0:
            await asyncio.to_thread(self._stopping.wait, delay)
        return answer

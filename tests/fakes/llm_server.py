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

Scripted answers form one FIFO queue shared by both APIs. When the queue is
empty the server answers ``echo: <last user text>``.

Standalone (for benchmarks)::

    python -m tests.fakes.llm_server --port 0

prints the URL on the first stdout line and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

Api = Literal["anthropic", "openai"]

__all__ = [
    "FakeLLM",
    "FakeUsage",
    "RecordedRequest",
    "running_fake_llm",
]


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


@dataclass(frozen=True)
class _Reply:
    text: str
    usage: FakeUsage | None = None


@dataclass(frozen=True)
class _ToolCall:
    name: str
    arguments: str
    text: str = ""
    call_id: str | None = None
    usage: FakeUsage | None = None


@dataclass(frozen=True)
class _Fail:
    status: int
    message: str | None
    retry_after: float | None


_Scripted = _Reply | _ToolCall | _Fail

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_ANTHROPIC_ERROR_MESSAGES = {
    401: "invalid x-api-key",
    429: "Number of request tokens has exceeded your per-minute rate limit",
    500: "Internal server error",
    529: "Overloaded",
}
_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    # status: (type, code, default message)
    400: ("invalid_request_error", None, "Invalid request"),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided"),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden"),
    404: ("invalid_request_error", "model_not_found", "The model does not exist"),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests"),
    500: ("server_error", None, "The server had an error while processing your request"),
    503: ("server_error", None, "The engine is currently overloaded"),
}


def _chunks(text: str, parts: int = 3) -> list[str]:
    """Split ``text`` into about ``parts`` non-empty pieces (none if text is empty)."""
    if not text:
        return []
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _sse(event: str | None, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


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


class FakeLLM:
    """A scripted, recording fake of the Anthropic and OpenAI chat APIs on 127.0.0.1."""

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._lock = threading.Lock()
        self._script: deque[_Scripted] = deque()
        self._next_delay = 0.0
        self._stopping = threading.Event()
        self.requests: list[RecordedRequest] = []
        self.openai_stream_usage = True
        """Set False to mimic servers that ignore ``stream_options.include_usage``."""
        self.url = ""
        self.openai_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeLLM:
        """Bind 127.0.0.1 (port 0 = any free port), start serving, return self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        sock.listen(128)
        port = sock.getsockname()[1]
        self._sock = sock
        self.url = f"http://127.0.0.1:{port}"
        self.openai_url = f"{self.url}/v1"

        config = uvicorn.Config(
            self._app(),
            loop="asyncio",
            http="h11",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._server = server
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fake-llm", daemon=True
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("fake LLM server failed to start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        server, thread, sock = self._server, self._thread, self._sock
        self._server = self._thread = self._sock = None
        self._stopping.set()  # ends pending delays, so no handler is cancelled mid-sleep
        if server is not None:
            server.should_exit = True
            server.force_exit = True
        if thread is not None:
            thread.join(timeout=5)
        if sock is not None:
            sock.close()

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ scripting

    def reply(self, text: str, *, usage: FakeUsage | None = None) -> None:
        """Queue a plain text answer."""
        with self._lock:
            self._script.append(_Reply(text, usage))

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
            self._script.append(_ToolCall(name, raw, text, call_id, usage))

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
            self._script.extend(_Fail(status, message, retry_after) for _ in range(times))

    def delay(self, seconds: float) -> None:
        """Make the next answer (of any kind) wait ``seconds`` before responding."""
        with self._lock:
            self._next_delay = seconds

    def reset(self) -> None:
        """Forget queued answers, the pending delay and recorded requests."""
        with self._lock:
            self._script.clear()
            self._next_delay = 0.0
            self.requests.clear()

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

    # ------------------------------------------------------------------ serving

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/messages", self._anthropic, methods=["POST"]),
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/chat/completions", self._openai, methods=["POST"]),
                Route("/health", self._health, methods=["GET"]),
            ]
        )

    async def _health(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def _take(self, request: Request, api: Api) -> tuple[RecordedRequest, _Scripted]:
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        record = RecordedRequest(
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            raw_body=raw,
            api=api,
            stream=bool(body.get("stream")) if isinstance(body, dict) else False,
        )
        with self._lock:
            self.requests.append(record)
            item = self._script.popleft() if self._script else None
            delay, self._next_delay = self._next_delay, 0.0
        if item is None:
            item = _Reply(f"echo: {_last_user_text(body)}")
        if delay > 0:
            await asyncio.to_thread(self._stopping.wait, delay)
        return record, item

    @staticmethod
    def _usage_for(record: RecordedRequest, item: _Reply | _ToolCall) -> FakeUsage:
        if item.usage is not None:
            return item.usage
        produced = len(item.text) + (len(item.arguments) if isinstance(item, _ToolCall) else 0)
        return FakeUsage(
            input_tokens=max(1, len(record.raw_body) // 4), output_tokens=max(1, produced // 4)
        )

    @staticmethod
    def _error_headers(item: _Fail) -> dict[str, str]:
        if item.retry_after is None:
            return {}
        value = item.retry_after
        return {"retry-after": str(int(value)) if value == int(value) else repr(value)}

    # --- Anthropic Messages API

    async def _anthropic(self, request: Request) -> Response:
        record, item = await self._take(request, "anthropic")
        if isinstance(item, _Fail):
            record.status = item.status
            error_type = _ANTHROPIC_ERROR_TYPES.get(
                item.status, "api_error" if item.status >= 500 else "invalid_request_error"
            )
            message = item.message or _ANTHROPIC_ERROR_MESSAGES.get(item.status, error_type)
            payload = {
                "type": "error",
                "error": {"type": error_type, "message": message},
                "request_id": f"req_{uuid.uuid4().hex[:24]}",
            }
            return JSONResponse(payload, status_code=item.status, headers=self._error_headers(item))

        body = record.body if isinstance(record.body, dict) else {}
        usage = self._usage_for(record, item)
        record.usage_sent = usage
        record.response_text = item.text
        model = str(body.get("model", "fake-model"))
        message_id = f"msg_{uuid.uuid4().hex[:24]}"
        tool_id = None
        if isinstance(item, _ToolCall):
            tool_id = item.call_id or f"toolu_{uuid.uuid4().hex[:24]}"
        stop_reason = "tool_use" if isinstance(item, _ToolCall) else "end_turn"
        usage_json = {
            "input_tokens": usage.input_tokens,
            "cache_creation_input_tokens": usage.cache_write,
            "cache_read_input_tokens": usage.cache_read,
            "output_tokens": usage.output_tokens,
        }

        if not record.stream:
            content: list[dict[str, Any]] = []
            if item.text or not isinstance(item, _ToolCall):
                content.append({"type": "text", "text": item.text})
            if isinstance(item, _ToolCall):
                try:
                    tool_input: Any = json.loads(item.arguments)
                except ValueError:
                    tool_input = {}
                content.append(
                    {"type": "tool_use", "id": tool_id, "name": item.name, "input": tool_input}
                )
            return JSONResponse(
                {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": content,
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "usage": usage_json,
                }
            )

        async def events() -> AsyncIterator[bytes]:
            start_usage = dict(usage_json, output_tokens=1)
            yield _sse(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": message_id,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": start_usage,
                    },
                },
            )
            index = 0
            if item.text or not isinstance(item, _ToolCall):
                yield _sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
                yield _sse("ping", {"type": "ping"})
                for piece in _chunks(item.text):
                    yield _sse(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "text_delta", "text": piece},
                        },
                    )
                    await asyncio.sleep(0)
                yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
                index += 1
            if isinstance(item, _ToolCall):
                yield _sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {
                            "type": "tool_use",
                            "id": tool_id,
                            "name": item.name,
                            "input": {},
                        },
                    },
                )
                for piece in ["", *_chunks(item.arguments)]:
                    yield _sse(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": piece},
                        },
                    )
                    await asyncio.sleep(0)
                yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
            yield _sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": usage.output_tokens},
                },
            )
            yield _sse("message_stop", {"type": "message_stop"})

        return StreamingResponse(events(), media_type="text/event-stream")

    # --- OpenAI Chat Completions API

    async def _openai(self, request: Request) -> Response:
        record, item = await self._take(request, "openai")
        if isinstance(item, _Fail):
            record.status = item.status
            error_type, code, default_message = _OPENAI_ERRORS.get(
                item.status,
                ("server_error" if item.status >= 500 else "invalid_request_error", None, "Error"),
            )
            payload = {
                "error": {
                    "message": item.message or default_message,
                    "type": error_type,
                    "param": None,
                    "code": code,
                }
            }
            return JSONResponse(payload, status_code=item.status, headers=self._error_headers(item))

        body = record.body if isinstance(record.body, dict) else {}
        sent = self._usage_for(record, item)
        record.usage_sent = FakeUsage(sent.input_tokens, sent.output_tokens, sent.cache_read, 0)
        record.response_text = item.text
        prompt_tokens = sent.input_tokens + sent.cache_read
        usage_json = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": sent.output_tokens,
            "total_tokens": prompt_tokens + sent.output_tokens,
            "prompt_tokens_details": {"cached_tokens": sent.cache_read, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }
        model = str(body.get("model", "fake-model"))
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        finish_reason = "tool_calls" if isinstance(item, _ToolCall) else "stop"
        call_id = None
        if isinstance(item, _ToolCall):
            call_id = item.call_id or f"call_{uuid.uuid4().hex[:24]}"

        if not record.stream:
            message: dict[str, Any] = {
                "role": "assistant",
                "content": item.text or None,
                "refusal": None,
            }
            if isinstance(item, _ToolCall):
                message["tool_calls"] = [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": item.name, "arguments": item.arguments},
                    }
                ]
            elif message["content"] is None:
                message["content"] = ""
            return JSONResponse(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": message,
                            "logprobs": None,
                            "finish_reason": finish_reason,
                        }
                    ],
                    "usage": usage_json,
                    "system_fingerprint": None,
                }
            )

        options = body.get("stream_options")
        include_usage = (
            self.openai_stream_usage
            and isinstance(options, dict)
            and bool(options.get("include_usage"))
        )
        if not include_usage:
            record.usage_sent = None

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            data: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": None,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if include_usage:
                data["usage"] = None
            return _sse(None, data)

        async def events() -> AsyncIterator[bytes]:
            yield chunk({"role": "assistant", "content": "", "refusal": None})
            for piece in _chunks(item.text):
                yield chunk({"content": piece})
                await asyncio.sleep(0)
            if isinstance(item, _ToolCall):
                yield chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": call_id,
                                "type": "function",
                                "function": {"name": item.name, "arguments": ""},
                            }
                        ]
                    }
                )
                for piece in _chunks(item.arguments):
                    yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                    await asyncio.sleep(0)
            yield chunk({}, finish_reason)
            if include_usage:
                yield _sse(
                    None,
                    {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "system_fingerprint": None,
                        "choices": [],
                        "usage": usage_json,
                    },
                )
            yield _sse(None, "[DONE]")

        return StreamingResponse(events(), media_type="text/event-stream")


@contextlib.contextmanager
def running_fake_llm(port: int = 0) -> Iterator[FakeLLM]:
    """Start a :class:`FakeLLM` for the duration of a ``with`` block."""
    llm = FakeLLM(port).start()
    try:
        yield llm
    finally:
        llm.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake Anthropic/OpenAI server on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free)")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with running_fake_llm(args.port) as llm:
        print(llm.url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

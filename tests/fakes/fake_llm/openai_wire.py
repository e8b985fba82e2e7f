"""The fake's OpenAI Chat Completions dialect: errors, JSON answers and SSE chunks."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from tests.fakes.fake_llm.script import (
    Answer,
    FailureAnswer,
    FakeUsage,
    RecordedRequest,
    ScriptedAnswer,
    ToolCallAnswer,
    usage_for,
)
from tests.fakes.fake_llm.wire import chunks, retry_after_headers, sse

_ERRORS: dict[int, tuple[str, str | None, str]] = {
    # status: (type, code, default message)
    400: ("invalid_request_error", None, "Invalid request"),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided"),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden"),
    404: ("invalid_request_error", "model_not_found", "The model does not exist"),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests"),
    500: ("server_error", None, "The server had an error while processing your request"),
    503: ("server_error", None, "The engine is currently overloaded"),
}


def respond(record: RecordedRequest, answer: ScriptedAnswer, *, stream_usage: bool) -> Response:
    """The HTTP response for ``answer``; notes what was sent on ``record``.

    ``stream_usage`` False mimics servers that ignore ``stream_options.include_usage``.
    """
    if isinstance(answer, FailureAnswer):
        return _error_response(record, answer)
    completion = _OutgoingCompletion.build(record, answer)
    if not record.stream:
        return JSONResponse(completion.as_json())
    options = completion.body.get("stream_options")
    include_usage = (
        stream_usage and isinstance(options, dict) and bool(options.get("include_usage"))
    )
    if not include_usage:
        record.usage_sent = None
    return StreamingResponse(completion.events(include_usage), media_type="text/event-stream")


def _error_response(record: RecordedRequest, failure: FailureAnswer) -> Response:
    record.status = failure.status
    error_type, code, default_message = _ERRORS.get(
        failure.status,
        ("server_error" if failure.status >= 500 else "invalid_request_error", None, "Error"),
    )
    payload = {
        "error": {
            "message": failure.message or default_message,
            "type": error_type,
            "param": None,
            "code": code,
        }
    }
    return JSONResponse(payload, status_code=failure.status, headers=retry_after_headers(failure))


@dataclass(frozen=True)
class _OutgoingCompletion:
    """One answer as a chat completion, sent whole (JSON) or as SSE chunks."""

    answer: Answer
    body: dict[str, Any]
    id: str
    created: int
    usage: FakeUsage
    call_id: str | None

    @classmethod
    def build(cls, record: RecordedRequest, answer: Answer) -> _OutgoingCompletion:
        usage = usage_for(record, answer)
        # OpenAI has no cache-write count, so none is sent or recorded.
        record.usage_sent = FakeUsage(usage.input_tokens, usage.output_tokens, usage.cache_read, 0)
        record.response_text = answer.text
        call_id = None
        if isinstance(answer, ToolCallAnswer):
            call_id = answer.call_id or f"call_{uuid.uuid4().hex[:24]}"
        return cls(
            answer=answer,
            body=record.body if isinstance(record.body, dict) else {},
            id=f"chatcmpl-{uuid.uuid4().hex[:24]}",
            created=int(time.time()),
            usage=usage,
            call_id=call_id,
        )

    @property
    def model(self) -> str:
        return str(self.body.get("model", "fake-model"))

    @property
    def tool_call(self) -> ToolCallAnswer | None:
        return self.answer if isinstance(self.answer, ToolCallAnswer) else None

    @property
    def finish_reason(self) -> str:
        return "stop" if self.tool_call is None else "tool_calls"

    def usage_json(self) -> dict[str, Any]:
        prompt_tokens = self.usage.input_tokens + self.usage.cache_read
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": self.usage.output_tokens,
            "total_tokens": prompt_tokens + self.usage.output_tokens,
            "prompt_tokens_details": {"cached_tokens": self.usage.cache_read, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }

    def as_json(self) -> dict[str, Any]:
        # Content is null beside tool calls and "" when there is nothing at all.
        message: dict[str, Any] = {
            "role": "assistant",
            "content": self.answer.text,
            "refusal": None,
        }
        call = self.tool_call
        if call is not None:
            message["content"] = call.text or None
            message["tool_calls"] = [
                {
                    "id": self.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
            ]
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": self.finish_reason,
        }
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
            "usage": self.usage_json(),
            "system_fingerprint": None,
        }

    async def events(self, include_usage: bool) -> AsyncIterator[bytes]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            data = self._chunk_json([choice])
            if include_usage:
                data["usage"] = None
            return sse(None, data)

        yield chunk({"role": "assistant", "content": "", "refusal": None})
        for piece in chunks(self.answer.text):
            yield chunk({"content": piece})
            await asyncio.sleep(0)
        call = self.tool_call
        if call is not None:
            function = {"name": call.name, "arguments": ""}
            opening = {"index": 0, "id": self.call_id, "type": "function", "function": function}
            yield chunk({"tool_calls": [opening]})
            for piece in chunks(call.arguments):
                yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                await asyncio.sleep(0)
        yield chunk({}, self.finish_reason)
        if include_usage:
            yield sse(None, dict(self._chunk_json([]), usage=self.usage_json()))
        yield sse(None, "[DONE]")

    def _chunk_json(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": choices,
        }

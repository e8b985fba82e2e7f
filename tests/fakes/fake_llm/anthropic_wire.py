"""The fake's Anthropic Messages API dialect: errors, JSON answers and the SSE event sequence."""

from __future__ import annotations

import asyncio
import json
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
    TextAnswer,
    ToolCallAnswer,
    usage_for,
)
from tests.fakes.fake_llm.wire import chunks, retry_after_headers, sse

_ERROR_TYPES = {
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
_ERROR_MESSAGES = {
    401: "invalid x-api-key",
    429: "Number of request tokens has exceeded your per-minute rate limit",
    500: "Internal server error",
    529: "Overloaded",
}


def respond(record: RecordedRequest, answer: ScriptedAnswer) -> Response:
    """The HTTP response for ``answer``; notes what was sent on ``record``."""
    if isinstance(answer, FailureAnswer):
        return _error_response(record, answer)
    message = _OutgoingMessage.build(record, answer)
    if not record.stream:
        return JSONResponse(message.as_json())
    return StreamingResponse(message.events(), media_type="text/event-stream")


def _error_response(record: RecordedRequest, failure: FailureAnswer) -> Response:
    record.status = failure.status
    error_type = _ERROR_TYPES.get(
        failure.status, "api_error" if failure.status >= 500 else "invalid_request_error"
    )
    message = failure.message or _ERROR_MESSAGES.get(failure.status, error_type)
    payload = {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": f"req_{uuid.uuid4().hex[:24]}",
    }
    return JSONResponse(payload, status_code=failure.status, headers=retry_after_headers(failure))


@dataclass(frozen=True)
class _OutgoingMessage:
    """One answer as a Messages API message, sent whole (JSON) or as SSE events."""

    answer: Answer
    id: str
    model: str
    usage: FakeUsage
    tool_id: str | None

    @classmethod
    def build(cls, record: RecordedRequest, answer: Answer) -> _OutgoingMessage:
        body = record.body if isinstance(record.body, dict) else {}
        usage = usage_for(record, answer)
        record.usage_sent = usage
        record.response_text = answer.text
        tool_id = None
        if isinstance(answer, ToolCallAnswer):
            tool_id = answer.call_id or f"toolu_{uuid.uuid4().hex[:24]}"
        return cls(
            answer=answer,
            id=f"msg_{uuid.uuid4().hex[:24]}",
            model=str(body.get("model", "fake-model")),
            usage=usage,
            tool_id=tool_id,
        )

    @property
    def tool_call(self) -> ToolCallAnswer | None:
        return self.answer if isinstance(self.answer, ToolCallAnswer) else None

    @property
    def has_text_block(self) -> bool:
        # A tool call without text has no text block, as with the real API.
        return bool(self.answer.text) or self.tool_call is None

    @property
    def stop_reason(self) -> str:
        return "end_turn" if self.tool_call is None else "tool_use"

    def usage_json(self) -> dict[str, int]:
        return {
            "input_tokens": self.usage.input_tokens,
            "cache_creation_input_tokens": self.usage.cache_write,
            "cache_read_input_tokens": self.usage.cache_read,
            "output_tokens": self.usage.output_tokens,
        }

    def as_json(self) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if self.has_text_block:
            content.append({"type": "text", "text": self.answer.text})
        call = self.tool_call
        if call is not None:
            try:
                tool_input: Any = json.loads(call.arguments)
            except ValueError:
                tool_input = {}
            content.append(
                {"type": "tool_use", "id": self.tool_id, "name": call.name, "input": tool_input}
            )
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "usage": self.usage_json(),
        }

    async def events(self) -> AsyncIterator[bytes]:
        yield self._message_start()
        index = 0
        if self.has_text_block:
            async for event in self._text_block(index):
                yield event
            index += 1
        if isinstance(self.answer, TextAnswer) and self.answer.overloaded_midway:
            error = {"type": "overloaded_error", "message": "Overloaded"}
            yield sse("error", {"type": "error", "error": error})
            return
        call = self.tool_call
        if call is not None:
            async for event in self._tool_use_block(index, call):
                yield event
        yield sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": self.usage.output_tokens},
            },
        )
        yield sse("message_stop", {"type": "message_stop"})

    def _message_start(self) -> bytes:
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            # The real API reports a provisional output count at the start.
            "usage": dict(self.usage_json(), output_tokens=1),
        }
        return sse("message_start", {"type": "message_start", "message": message})

    async def _text_block(self, index: int) -> AsyncIterator[bytes]:
        yield _block_start(index, {"type": "text", "text": ""})
        yield sse("ping", {"type": "ping"})
        for piece in chunks(self.answer.text):
            yield _block_delta(index, {"type": "text_delta", "text": piece})
            await asyncio.sleep(0)
        yield _block_stop(index)

    async def _tool_use_block(self, index: int, call: ToolCallAnswer) -> AsyncIterator[bytes]:
        yield _block_start(
            index, {"type": "tool_use", "id": self.tool_id, "name": call.name, "input": {}}
        )
        # The real API opens every tool input with an empty partial_json delta.
        for piece in ["", *chunks(call.arguments)]:
            yield _block_delta(index, {"type": "input_json_delta", "partial_json": piece})
            await asyncio.sleep(0)
        yield _block_stop(index)


def _block_start(index: int, block: dict[str, Any]) -> bytes:
    return sse(
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )


def _block_delta(index: int, delta: dict[str, Any]) -> bytes:
    return sse(
        "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    )


def _block_stop(index: int) -> bytes:
    return sse("content_block_stop", {"type": "content_block_stop", "index": index})

"""OpenAI's Chat Completions wire format: the request Roost accepts, the replies it sends.

Only what a chat client needs is read from the request (``model``, ``messages``,
``stream``, ``stream_options``, ``user``); the sampling options clients send
(``temperature``, ``max_tokens``…) are accepted and ignored: the agent's own settings
decide them. Replies follow https://platform.openai.com/docs/api-reference/chat.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from roost.agents.turn import TurnResult

MAX_MESSAGES = 2000
"""Messages in one request: a long chat resends a few hundred; more is not a chat."""
MAX_PARTS = 100
"""Content parts in one message."""

USER_ROLES = frozenset({"user"})
SYSTEM_ROLES = frozenset({"system", "developer"})


class _Lenient(BaseModel):
    # Clients send many fields Roost does not use (temperature, logprobs…): ignored.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class ContentPart(_Lenient):
    type: Annotated[str, StringConstraints(max_length=64)]
    text: str | None = None


class ChatMessage(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | Annotated[list[ContentPart], Field(max_length=MAX_PARTS)] | None = None

    @property
    def text(self) -> str:
        """The message's text; non-text parts (images, audio) are left out."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text or "" for part in self.content if part.type == "text")


class StreamOptions(_Lenient):
    include_usage: bool = False


class ChatCompletionRequest(_Lenient):
    model: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=MAX_MESSAGES)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: Annotated[str, StringConstraints(max_length=200)] | None = None
    n: Annotated[int, Field(ge=1, le=1)] | None = None
    """One answer per request: an agent's turn has one answer."""

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


def error_body(
    message: str, kind: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    """OpenAI's error shape: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def models_list(agents: list[str], created: int) -> dict[str, Any]:
    return {"object": "list", "data": [model_entry(name, created) for name in agents]}


def model_entry(name: str, created: int) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": created, "owned_by": "roost"}


def usage(result: TurnResult) -> dict[str, Any]:
    """The whole turn's tokens (every model call, tool rounds included). OpenAI counts
    cached input inside ``prompt_tokens``; Roost keeps it apart, so it is added back."""
    counts = result.usage
    prompt = counts.input_tokens + counts.cache_read_tokens + counts.cache_write_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": counts.output_tokens,
        "total_tokens": prompt + counts.output_tokens,
        "prompt_tokens_details": {"cached_tokens": counts.cache_read_tokens},
    }


def completion(completion_id: str, result: TurnResult, turn: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed answer; ``roost`` carries the turn's fields (status, cost…)."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": result.agent,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.text, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": usage(result),
        "system_fingerprint": None,
        "roost": turn,
    }


class ChunkWriter:
    """``chat.completion.chunk`` events of one streamed answer, as SSE ``data:`` lines."""

    def __init__(self, completion_id: str, model: str, include_usage: bool) -> None:
        self._id = completion_id
        self._model = model
        self._created = int(time.time())
        self._include_usage = include_usage

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        chunk = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "system_fingerprint": None,
            "choices": choices,
            **extra,
        }
        if self._include_usage and "usage" not in extra:
            chunk["usage"] = None  # as OpenAI: null on every chunk but the last
        return sse(chunk)

    def role(self) -> bytes:
        return self._chunk([_choice({"role": "assistant", "content": ""})])

    def text(self, delta: str) -> bytes:
        return self._chunk([_choice({"content": delta})])

    def finish(self, result: TurnResult | None) -> bytes:
        """The last choice chunk, the usage chunk if asked for, and ``[DONE]``."""
        end = self._chunk([_choice({}, finish_reason="stop")])
        if self._include_usage and result is not None:
            end += self._chunk([], usage=usage(result))
        return end + b"data: [DONE]\n\n"


def _choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}


def sse(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode("utf-8") + b"\n\n"

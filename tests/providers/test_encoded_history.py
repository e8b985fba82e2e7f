"""A history's messages are encoded once each and kept (``Message.encoded``); the body
put together from the kept pieces is byte for byte the body encoded whole.

The history grows call by call with the same message objects, as a session's does, so
the prompt cache's marks move on while the messages they were on stay kept: a piece
kept with a mark in it, or a stale one, would show as a difference.
"""

from __future__ import annotations

import pytest

from roost.providers import anthropic_backend, openai_backend
from roost.providers.base import Message, ModelRequest, ToolCall
from tests.providers.support import TOOLS, make_request

SESSION = (
    Message("user", "lis « a.txt » — s'il te plaît"),
    Message(
        "assistant",
        "Je regarde.",
        tool_calls=(
            ToolCall("call_a", "read_file", '{"path": "a.txt"}'),
            ToolCall("call_b", "read_file", "not json"),
        ),
    ),
    Message("tool", "contenu ünïcode", tool_call_id="call_a", tool_name="read_file"),
    Message("tool", "bad arguments", tool_call_id="call_b", tool_name="read_file", is_error=True),
    Message("assistant", 'Voilà.\n"quoted" \\ \t'),
    Message("user", "   "),  # a blank user message carries no mark
    Message("assistant", ""),  # an empty answer: the placeholder
    Message("user", "emoji 🦜 and a NUL-free control \x01"),
    Message("assistant", tool_calls=(ToolCall("call_c", "write_file", "{}"),)),
    Message("tool", "done", tool_call_id="call_c", tool_name="write_file"),
    Message("assistant", "fin"),
    Message("user", "merci"),
)

OPENAI_URLS = [None, "http://127.0.0.1:1/v1"]  # max_completion_tokens, then max_tokens


def _requests(**options: object) -> list[ModelRequest]:
    """The requests of one session, each with one message more (the same objects)."""
    return [
        make_request(*SESSION[:size], tools=TOOLS, **options)  # type: ignore[arg-type]
        for size in range(1, len(SESSION) + 1)
    ]


@pytest.mark.parametrize("cache", [True, False])
def test_anthropic_body_from_kept_messages_is_the_body_encoded_whole(cache: bool) -> None:
    for _ in range(2):  # the second time round every message's piece is a kept one
        for request in _requests():
            whole = anthropic_backend.encode_body(
                anthropic_backend.build_request_params(request, cache=cache)
            )
            assert anthropic_backend.encode_request(request, cache=cache) == whole


@pytest.mark.parametrize("base_url", OPENAI_URLS)
def test_openai_body_from_kept_messages_is_the_body_encoded_whole(base_url: str | None) -> None:
    for request in [*_requests(temperature=0.3), *_requests(system="")]:
        whole = openai_backend.encode_body(
            openai_backend.build_request_params(request, base_url=base_url)
        )
        assert openai_backend.encode_request(request, base_url=base_url) == whole


def test_a_message_sent_to_both_apis_is_encoded_for_each() -> None:
    # Failover sends the same history to the other API: each gets its own encoding.
    for request in _requests():
        assert anthropic_backend.encode_request(request) == anthropic_backend.encode_body(
            anthropic_backend.build_request_params(request)
        )
        assert openai_backend.encode_request(request) == openai_backend.encode_body(
            openai_backend.build_request_params(request)
        )


def test_a_message_is_encoded_once_per_wire_format() -> None:
    message = Message("user", "hello")
    calls: list[str] = []

    def encode(wire: str) -> str:
        calls.append(wire)
        return f"<{wire} {message.text}>"

    assert message.encoded("a", lambda m: encode("a")) == "<a hello>"
    assert message.encoded("a", lambda m: encode("a")) == "<a hello>"
    assert calls == ["a"]
    assert message.encoded("b", lambda m: encode("b")) == "<b hello>"
    assert calls == ["a", "b"]
    # The memo is no part of the message's value.
    assert message == Message("user", "hello")
    assert hash(message) == hash(Message("user", "hello"))
    assert "<" not in repr(message)

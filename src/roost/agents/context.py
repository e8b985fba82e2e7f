"""Context assembly: which part of a session's history goes into the next model call.

Token counts here are estimates (about four characters per token): the exact count
is only known after the call, from the API's usage report, which is what the ledger
records. The estimate only decides how much history fits ``max_context_tokens``.
"""

from __future__ import annotations

from collections.abc import Sequence

from roost.providers.base import Message, ToolSpec

_CHARS_PER_TOKEN = 4
_MESSAGE_OVERHEAD = 4


def estimate_tokens(text: str) -> int:
    return (len(text) + _CHARS_PER_TOKEN - 1) // _CHARS_PER_TOKEN


def message_tokens(message: Message) -> int:
    size = len(message.text)
    for call in message.tool_calls:
        size += len(call.name) + len(call.arguments_json)
    return (size + _CHARS_PER_TOKEN - 1) // _CHARS_PER_TOKEN + _MESSAGE_OVERHEAD


def history_budget(system: str, tools: Sequence[ToolSpec], max_tokens: int) -> int:
    """What is left of ``max_tokens`` for the history once the fixed part is counted."""
    return (
        max_tokens
        - estimate_tokens(system)
        - sum(estimate_tokens(f"{t.name}{t.description}{t.input_schema}") for t in tools)
    )


def fit_history(
    history: Sequence[Message], system: str, tools: Sequence[ToolSpec], max_tokens: int
) -> list[Message]:
    """The newest messages that fit the budget, starting at a user message.

    Starting at a user message keeps tool calls and their results together. The
    current turn (from the last user message on) is always kept, even over budget:
    dropping it would make the call meaningless.
    """
    budget = history_budget(system, tools, max_tokens)
    last_user = max(len(history) - 1, 0)
    while last_user > 0 and history[last_user].role != "user":
        last_user -= 1
    start = len(history)
    used = 0
    while start > 0:
        used += message_tokens(history[start - 1])
        if used > budget:
            break
        start -= 1
    while start < last_user and history[start].role != "user":
        start += 1
    return repair_tool_pairs(history[min(start, last_user) :])


def repair_tool_pairs(messages: Sequence[Message]) -> list[Message]:
    """Pair every tool call with exactly one result, so an interrupted turn never
    poisons the session: APIs reject a call without a result (left behind by a crash
    or a cancel between the two) and a result without its call.
    """
    repaired: list[Message] = []
    pending: dict[str, str] = {}  # tool call id -> tool name, awaiting a result
    for message in messages:
        if message.role == "tool":
            if pending.pop(message.tool_call_id or "", None) is not None:
                repaired.append(message)
            continue
        if pending:
            repaired.extend(_interrupted(call_id, name) for call_id, name in pending.items())
            pending = {}
        if message.tool_calls:
            pending = {call.id: call.name for call in message.tool_calls}
        repaired.append(message)
    repaired.extend(_interrupted(call_id, name) for call_id, name in pending.items())
    return repaired


def _interrupted(call_id: str, name: str) -> Message:
    return Message(
        role="tool",
        text="interrupted: this tool call did not finish",
        tool_call_id=call_id,
        tool_name=name,
        is_error=True,
    )

"""Wire-format pieces shared by the fake's Anthropic and OpenAI dialects."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.fake_llm.script import FailureAnswer


def sse(event: str | None, data: Any) -> bytes:
    """One server-sent event; ``data`` that is not a string is sent as compact JSON."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def chunks(text: str, parts: int = 3) -> list[str]:
    """Split ``text`` into about ``parts`` non-empty pieces (none if text is empty)."""
    if not text:
        return []
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def retry_after_headers(failure: FailureAnswer) -> dict[str, str]:
    if failure.retry_after is None:
        return {}
    value = failure.retry_after
    # Whole seconds as the real APIs send them; fractions keep tests fast.
    return {"retry-after": str(int(value)) if value == int(value) else repr(value)}

"""A deterministic stand-in for a model asked to compact a conversation.

It answers Roost's summary requests (recognised by their system prompt) with every
line of the existing summary and the folded messages that states something to
remember (contains ``remember``, any case), each once: what a good summary keeps,
and short enough to stay small however often it is updated. Anything else is left
to the script (returns ``None``).
"""

from __future__ import annotations

import re

from tests.fakes.fake_llm.script import RecordedRequest, TextAnswer

SUMMARY_REQUEST_MARK = "running summary"
_FACT = re.compile(r"[^.\n]*remember[^.\n]*", re.IGNORECASE)


def is_summary_request(record: RecordedRequest) -> bool:
    body = record.body if isinstance(record.body, dict) else {}
    system = body.get("system")
    if isinstance(system, list):
        system = " ".join(str(block.get("text", "")) for block in system if isinstance(block, dict))
    if not isinstance(system, str):  # OpenAI: the first message
        messages = body.get("messages") or [{}]
        system = str(messages[0].get("content", "")) if isinstance(messages[0], dict) else ""
    return SUMMARY_REQUEST_MARK in system


def summarise(record: RecordedRequest) -> TextAnswer | None:
    """The summary for a summary request, else ``None``."""
    if not is_summary_request(record):
        return None
    body = record.body if isinstance(record.body, dict) else {}
    prompt = str(body["messages"][-1]["content"])
    if not isinstance(body["messages"][-1]["content"], str):
        prompt = " ".join(str(b.get("text", "")) for b in body["messages"][-1]["content"])
    facts: list[str] = []
    for match in _FACT.finditer(prompt):
        fact = match.group(0).strip().removeprefix("User: ").removeprefix("- ")
        if fact and fact not in facts:
            facts.append(fact)
    return TextAnswer("\n".join(f"- {fact}" for fact in facts) or "- nothing to keep")

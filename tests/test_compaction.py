"""Compaction through the real stack: App -> turn -> Anthropic SDK -> fake LLM (caching on).

A session that outgrows ``max_context_tokens`` gets its oldest turns summarised (by
the routine model, ledger role ``summary``); the summary is updated, not redone, at
the next compaction; it is sent first, in place of what it covers; the newest user
message and every tool call with its result are kept; a failed summary falls back
to the sliding window; ``compaction: off`` and a reset behave as before.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Connection, select

from roost.agents.compaction import SUMMARY_HEADING, ContextWindow, SummaryCall
from roost.app import App
from roost.config.loader import load_settings
from roost.config.settings import AgentSettings
from roost.providers.base import Message
from roost.store.summaries import CompactionSummary, Summaries
from roost.store.tables import model_calls
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.fake_llm.script import (
    FailureAnswer,
    RecordedRequest,
    ScriptedAnswer,
    TextAnswer,
    ToolCallAnswer,
)
from tests.fakes.fake_llm.summariser import is_summary_request, summarise
from tests.fakes.llm_server import FakeLLM

FILLER = "Some chatter that only fills the context window and matters little. " * 6


async def _app(write_config: ConfigWriter, tmp_path: Path, fake: FakeLLM, extra: str) -> App:
    path = write_config(
        provider_yaml(fake)
        + f"home: {tmp_path / 'home'}\n"
        + "agents:\n"
        + "  assistant:\n"
        + "    model: claude/claude-sonnet-4-5\n"
        + "    system: You are a test assistant.\n"
        + "    tools: [read_file]\n"
        + "    max_context_tokens: 1000\n"
        + extra
    )
    app = App(load_settings(path, env=os.environ))
    await app.start()
    return app


@pytest.fixture
async def compacting(
    write_config: ConfigWriter, tmp_path: Path, fake_llm: FakeLLM
) -> AsyncIterator[App]:
    fake_llm.responder = summarise
    app = await _app(write_config, tmp_path, fake_llm, "")
    yield app
    await app.stop(grace_s=1)


def _turn_requests(fake: FakeLLM) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.status == 200 and not is_summary_request(r)]


def _summary_requests(fake: FakeLLM) -> list[RecordedRequest]:
    return [r for r in fake.requests if is_summary_request(r)]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(str(b.get("text") or b.get("content") or "") for b in content)


async def _roles(app: App) -> list[tuple[str, str]]:
    def read(connection: Connection) -> list[tuple[str, str]]:
        rows = connection.execute(select(model_calls.c.role, model_calls.c.status)).all()
        return [(str(r[0]), str(r[1])) for r in rows]

    return await app.db.read(read)


async def _chat(app: App, turns: range, session: str = "long") -> None:
    for turn in turns:
        fact = "Please remember that the boat is called Albatross. " if turn == 0 else ""
        result = await app.ask("assistant", f"{fact}Turn {turn}. {FILLER}", session)
        assert result.ok, result.error


async def test_the_oldest_turns_become_a_summary_sent_first(
    compacting: App, fake_llm: FakeLLM
) -> None:
    await _chat(compacting, range(8))
    assert len(_summary_requests(fake_llm)) >= 1
    last = _turn_requests(fake_llm)[-1].body["messages"]
    assert _text(last[0]["content"]).startswith(SUMMARY_HEADING)
    assert "boat is called Albatross" in _text(last[0]["content"])
    assert "Turn 7." in _text(last[-1]["content"])  # the newest message is sent
    assert not any("Turn 0." in _text(m["content"]) for m in last)  # folded into the summary
    # The full history stays in the store.
    session = await compacting.conversations.session_id("assistant", "long")
    assert len(await compacting.conversations.history(session)) == 16
    roles = await _roles(compacting)
    assert ("summary", "ok") in roles and ("routine", "ok") in roles


async def test_a_second_compaction_updates_the_first_summary(
    compacting: App, fake_llm: FakeLLM
) -> None:
    await _chat(compacting, range(14))
    summaries = _summary_requests(fake_llm)
    assert len(summaries) >= 2
    second_prompt = _text(summaries[1].body["messages"][-1]["content"])
    first_summary = summaries[0].response_text or ""
    assert "boat is called Albatross" in first_summary
    assert f"Existing summary:\n{first_summary}" in second_prompt
    assert "Turn 0." not in second_prompt  # not regenerated from the whole history
    last = _turn_requests(fake_llm)[-1].body["messages"]
    assert "boat is called Albatross" in _text(last[0]["content"])


async def test_the_prefix_stays_the_same_between_compactions(
    compacting: App, fake_llm: FakeLLM
) -> None:
    await _chat(compacting, range(10))
    pairs = 0
    before: RecordedRequest | None = None
    for record in fake_llm.requests:
        if is_summary_request(record):
            before = None  # a compaction: the prefix may change here, and only here
            continue
        if before is not None:
            old, new = before.body["messages"], record.body["messages"]
            # The earlier request's messages start the later one's, marks aside.
            assert [_text(m["content"]) for m in new[: len(old)]] == [
                _text(m["content"]) for m in old
            ]
            pairs += 1
        before = record
    assert pairs >= 3 and _summary_requests(fake_llm)


def _tool_answers(record: RecordedRequest) -> ScriptedAnswer | None:
    """Every turn reads a file once, then answers; summary requests get summaries."""
    summary = summarise(record)
    if summary is not None:
        return summary
    last = record.body["messages"][-1]
    if isinstance(last["content"], list) and last["content"][-1].get("type") == "tool_result":
        return TextAnswer("Read it. " + FILLER)
    return ToolCallAnswer("read_file", json.dumps({"path": "notes.txt"}))


async def test_tool_calls_keep_their_results_and_the_newest_message_stays(
    compacting: App, fake_llm: FakeLLM
) -> None:
    fake_llm.responder = _tool_answers
    await _chat(compacting, range(8))
    assert _summary_requests(fake_llm)
    for record in _turn_requests(fake_llm):
        messages = record.body["messages"]
        calls = {
            block["id"]
            for m in messages
            if isinstance(m["content"], list)
            for block in m["content"]
            if block.get("type") == "tool_use"
        }
        results = [
            block["tool_use_id"]
            for m in messages
            if isinstance(m["content"], list)
            for block in m["content"]
            if block.get("type") == "tool_result"
        ]
        assert set(results) == calls and len(results) == len(calls)
    final = _turn_requests(fake_llm)[-1].body["messages"]
    assert any("Turn 7." in _text(m["content"]) for m in final)


def _refuse_summaries(record: RecordedRequest) -> ScriptedAnswer | None:
    return FailureAnswer(400, "summary refused", None) if is_summary_request(record) else None


async def test_a_failed_summary_falls_back_to_the_sliding_window(
    compacting: App, fake_llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    fake_llm.responder = _refuse_summaries
    caplog.set_level(logging.WARNING, logger="roost.agents.compaction")
    await _chat(compacting, range(8))  # every turn succeeds
    failed = [r for r in fake_llm.requests if r.status == 400]
    assert failed and all(is_summary_request(r) for r in failed)
    assert "summarising the oldest messages failed" in caplog.text
    last = _turn_requests(fake_llm)[-1].body["messages"]
    assert not _text(last[0]["content"]).startswith(SUMMARY_HEADING)
    assert "Turn 7." in _text(last[-1]["content"])
    assert not any("Turn 0." in _text(m["content"]) for m in last)  # slid out
    assert ("summary", "error") in await _roles(compacting)


async def test_compaction_off_keeps_the_sliding_window(
    write_config: ConfigWriter, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    app = await _app(write_config, tmp_path, fake_llm, "    compaction: off\n")
    try:
        await _chat(app, range(8))
    finally:
        await app.stop(grace_s=1)
    assert not _summary_requests(fake_llm)
    last = _turn_requests(fake_llm)[-1].body["messages"]
    assert not any("Albatross" in _text(m["content"]) for m in last)


async def test_a_reset_session_starts_without_its_summary(
    compacting: App, fake_llm: FakeLLM
) -> None:
    await _chat(compacting, range(8))
    assert _summary_requests(fake_llm)
    await compacting.conversations.reset_session("assistant", "long")
    await compacting.ask("assistant", "hello again", "long")
    last = _turn_requests(fake_llm)[-1].body["messages"]
    assert len(last) == 1 and "hello again" in _text(last[0]["content"])


async def test_fifty_turns_read_most_input_from_the_cache_and_keep_the_first_fact(
    fake_llm: FakeLLM,
) -> None:
    """The benchmark's conversation (bench/cache_conversation.py), caching and compaction on."""
    from bench.cache_conversation import run_conversation

    figures = await run_conversation(fake_llm, "claude-sonnet-4-5", 50, on=True)
    assert figures["summary_calls"] >= 1
    assert figures["cache_read_share"] >= 0.7
    assert figures["fact_from_turn_1_in_last_turn"] is True
    assert figures["unpriced_calls"] == 0 and figures["cost_usd"] > 0


async def test_a_long_backlog_is_folded_in_several_bounded_summary_calls(
    write_config: ConfigWriter, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    # A session that grew with compaction off, then compaction on: the backlog goes into
    # the summary in calls of about one context's worth each, not in one huge request.
    before = await _app(write_config, tmp_path, fake_llm, "    compaction: off\n")
    try:
        await _chat(before, range(12))
    finally:
        await before.stop(grace_s=1)
    fake_llm.reset()
    fake_llm.responder = summarise
    after = await _app(write_config, tmp_path, fake_llm, "")
    try:
        result = await after.ask("assistant", "Turn 12. What is the boat called?", "long")
    finally:
        await after.stop(grace_s=1)
    assert result.ok
    summaries = _summary_requests(fake_llm)
    assert len(summaries) >= 2
    for record in summaries:
        folded = _text(record.body["messages"][-1]["content"]).split("Messages to fold into it:")
        assert len(folded[1]) <= 1000 * 4 + 200  # about max_context_tokens at 4 chars a token
    last = _turn_requests(fake_llm)[-1].body["messages"]
    assert "boat is called Albatross" in _text(last[0]["content"])
    assert "What is the boat called?" in _text(last[-1]["content"])


async def test_the_summary_message_is_the_same_object_from_call_to_call(tmp_path: Path) -> None:
    """While the summary stands, its message is kept: its encoding is made once, not per call."""
    settings = AgentSettings("a", "p", "m", "system", (), tmp_path)
    summary = CompactionSummary("what was said", covers_through=1)
    window = ContextWindow(settings, cast(Summaries, None), 1, [1, 2], summary)
    history = [Message(role="user", text="old"), Message(role="user", text="new")]
    call = cast(SummaryCall, None)  # never needed: the history fits

    first = await window.messages(history, (), call)
    second = await window.messages(history, (), call)

    assert first[0].text.endswith("what was said")
    assert first[0] is second[0]

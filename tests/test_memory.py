"""Memory: remember, recall (ranked full-text search), forget; per agent; auto_recall.

On SQLite (FTS5, and the LIKE ranking used where FTS5 is missing) and on PostgreSQL
(tsvector/ts_rank; skipped with the reason when no server is usable).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from roost.app import App
from roost.config.schema import MemoryConfig
from roost.config.settings import Settings
from roost.providers.base import ToolCall
from roost.store import memory as memory_store
from roost.store.database import Database
from roost.store.memory import MemoryStore
from roost.tools.memory import MemoryTools
from roost.tools.registry import ToolContext, ToolOutcome, ToolRegistry
from tests.fakes.llm_server import FakeLLM
from tests.test_store import POSTGRES_URL, _drop_schema, _postgres_schema

HOSTILE_QUERIES = ['"', "*", "NEAR(", "OR OR", "AND", 'a" OR "b', "'; DROP TABLE x; --", "^", "-x"]


@pytest.fixture(params=["sqlite-fts5", "sqlite-like", "postgres"])
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Database]:
    if request.param.startswith("sqlite"):
        if request.param == "sqlite-like":  # a sqlite3 library without FTS5
            monkeypatch.setattr(memory_store, "sqlite_has_fts5", lambda: False)
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'roost.db'}")
        await database.open()
        yield database
        await database.close()
        return
    schema = await _postgres_schema()
    database = Database(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})
    await database.open()
    try:
        yield database
    finally:
        await database.close()
        await _drop_schema(schema)


class Memory:
    """The memory tools as an agent calls them (through the registry, arguments as JSON)."""

    def __init__(self, db: Database, settings: Settings, max_notes: int = 1000) -> None:
        agents = {
            name: dataclasses.replace(agent, memory=MemoryConfig(max_notes=max_notes))
            for name, agent in settings.agents.items()
        }
        self.registry = ToolRegistry(MemoryTools(MemoryStore(db), agents).tools())

    async def call(self, agent: str, name: str, arguments: dict[str, object]) -> ToolOutcome:
        context = ToolContext(agent, "s", Path("."))
        call = ToolCall("c1", name, json.dumps(arguments))
        return await self.registry.run(call, context, ["remember", "recall", "forget"])

    async def remember(self, agent: str, text: str, tags: list[str] | None = None) -> int:
        outcome = await self.call(agent, "remember", {"text": text, "tags": tags or []})
        assert not outcome.is_error, outcome.text
        return int(outcome.text.rsplit("#", 1)[1])

    async def recall(self, agent: str, query: str, limit: int = 5) -> list[int]:
        outcome = await self.call(agent, "recall", {"query": query, "limit": limit})
        assert not outcome.is_error, outcome.text
        return [int(line.split()[0][1:]) for line in outcome.text.splitlines() if line[:1] == "#"]


async def test_round_trip_ranks_the_better_match_first_and_forget_removes(
    db: Database, settings: Settings
) -> None:
    memory = Memory(db, settings)
    strong = await memory.remember(
        "assistant", "Dentist: Dr Lee, dentist appointment every March", ["dentist", "health"]
    )
    # Newer, so only a real ranking puts the stronger match first.
    weak = await memory.remember("assistant", "The owner mentioned a dentist appointment once.")
    other = await memory.remember("assistant", "Favourite tea is genmaicha")
    for filler in ("Bins go out on Tuesday", "The car is blue", "Plants need water weekly"):
        await memory.remember("assistant", filler)
    assert await memory.recall("assistant", "when is the dentist appointment?") == [strong, weak]
    assert await memory.recall("assistant", "tea") == [other]
    assert await memory.recall("assistant", "health") == [strong]  # tags are searched too
    assert await memory.recall("assistant", "dentist", limit=1) == [strong]
    outcome = await memory.call("assistant", "recall", {"query": "genmaicha"})
    assert outcome.text.startswith('<untrusted source="your notes">\n#')  # notes are data
    assert "Favourite tea is genmaicha" in outcome.text
    forgotten = await memory.call("assistant", "forget", {"id": strong})
    assert (forgotten.is_error, forgotten.text) == (False, f"forgot note #{strong}")
    assert await memory.recall("assistant", "dentist") == [weak]
    again = await memory.call("assistant", "forget", {"id": strong})
    assert again.is_error and f"no note #{strong}" in again.text


async def test_each_agent_sees_and_forgets_only_its_own_notes(
    db: Database, settings: Settings
) -> None:
    memory = Memory(db, settings)
    mine = await memory.remember("assistant", "the wifi password hint is the cat's name")
    assert await memory.recall("coder", "wifi password") == []
    refused = await memory.call("coder", "forget", {"id": mine})
    assert refused.is_error and "no note" in refused.text
    assert await memory.recall("assistant", "wifi") == [mine]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
async def test_hostile_queries_do_not_error(db: Database, settings: Settings, query: str) -> None:
    memory = Memory(db, settings)
    note = await memory.remember("assistant", 'quotes " and stars * and NEAR( and OR OR x')
    outcome = await memory.call("assistant", "recall", {"query": query})
    assert not outcome.is_error, outcome.text
    assert outcome.text == "no matching notes" or f"#{note}" in outcome.text
    assert await memory.recall("assistant", f"NEAR( {query} stars") == [note]


async def test_caps_on_note_size_query_length_and_note_count(
    db: Database, settings: Settings
) -> None:
    memory = Memory(db, settings, max_notes=2)
    too_long = await memory.call("assistant", "remember", {"text": "x" * 2001})
    assert too_long.is_error and "at most 2000" in too_long.text
    long_query = await memory.call("assistant", "recall", {"query": "q" * 501})
    assert long_query.is_error and "at most 500" in long_query.text
    await memory.remember("assistant", "one")
    await memory.remember("assistant", "two")
    full = await memory.call("assistant", "remember", {"text": "three"})
    assert full.is_error and "memory.max_notes" in full.text and "forget" in full.text
    await memory.remember("coder", "the limit counts per agent")
    absurd = await memory.call("coder", "forget", {"id": 2**70})
    assert absurd.is_error and "less than or equal" in absurd.text


async def test_text_a_database_would_refuse_is_cleaned(db: Database, settings: Settings) -> None:
    memory = Memory(db, settings)
    note = await memory.remember("assistant", "nul\x00byte in a note", ["t\x00ag"])
    outcome = await memory.call("assistant", "recall", {"query": "note"})
    assert f"#{note} [tag] nulbyte in a note" in outcome.text
    surrogate = await memory.call("assistant", "remember", {"text": "lone \ud800"})
    assert surrogate.is_error and "invalid arguments for remember" in surrogate.text


async def test_notes_stored_before_the_index_existed_are_found(
    tmp_path: Path, settings: Settings
) -> None:
    """A database whose notes were written without FTS5 gets them indexed on first use."""
    path = tmp_path / "roost.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.open()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(memory_store, "sqlite_has_fts5", lambda: False)
            note = await Memory(database, settings).remember("assistant", "old note about kites")
        assert await Memory(database, settings).recall("assistant", "kites") == [note]
    finally:
        await database.close()


async def test_auto_recall_puts_the_relevant_notes_before_the_new_message(
    settings: Settings, fake_llm: FakeLLM
) -> None:
    agents = dict(settings.agents)
    agents["assistant"] = dataclasses.replace(
        agents["assistant"],
        tools=("remember", "recall", "forget"),
        memory=MemoryConfig(auto_recall=2),
    )
    app = App(dataclasses.replace(settings, agents=agents))
    await app.start()
    try:
        fake_llm.tool_call("remember", {"text": "The owner's cat is called Miso", "tags": ["cat"]})
        fake_llm.reply("Noted.")
        await app.ask("assistant", "remember that my cat is Miso", "first")
        fake_llm.reply("Miso.")
        result = await app.ask("assistant", "what is my cat called?", "second")
        assert result.ok
        body = fake_llm.requests[-1].body
        assert json.dumps(body).count("Miso") == 1  # only from the recalled note
        last_user = json.dumps(body["messages"][-1])
        expected = '<untrusted source=\\"your notes\\">\\n#1 [cat] The owner\'s cat is called Miso'
        assert expected in last_user
        assert last_user.index("#1 [cat]") < last_user.index("what is my cat called?")
        # The system prompt is the same on every turn: its cache is not broken by notes.
        assert body["system"] == fake_llm.requests[0].body["system"]
        fake_llm.reply("No notes for that.")
        await app.ask("assistant", "unrelated zebra question", "third")
        assert "your notes" not in json.dumps(fake_llm.requests[-1].body["messages"][-1])
    finally:
        await app.stop(grace_s=1)

"""remember, recall, forget: an agent's long-term notes, and auto_recall's note block.

Notes live in the store (``roost.store.memory``), per agent: an agent never sees,
finds or deletes another's. What recall returns was written by the model, maybe from a
page or a file it read, so it reaches the model marked as data (``untrusted``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, field_validator

from roost.features.contract import Feature
from roost.store.memory import MemoryFull, MemoryStore, Note, sqlite_has_fts5
from roost.tools.registry import Tool, ToolContext, ToolError
from roost.tools.untrusted import untrusted

if TYPE_CHECKING:
    from roost.config.settings import AgentSettings, Settings
    from roost.ports import CorePorts

log = logging.getLogger(__name__)

MAX_NOTE_CHARS = 2000
MAX_QUERY_CHARS = 500
MAX_TAGS = 8
MAX_RECALL = 20
MEMORY_TOOLS = ("remember", "recall", "forget")


class RememberArgs(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)
    tags: list[str] = Field(default_factory=list)

    @field_validator("tags")
    @classmethod
    def _few_tags(cls, value: list[str]) -> list[str]:
        if len(value) > MAX_TAGS:  # here, not in the schema every request carries
            raise ValueError(f"at most {MAX_TAGS} tags")
        return value


class RecallArgs(BaseModel):
    query: str = Field(min_length=1)
    limit: int = Field(default=5, ge=1, le=MAX_RECALL)

    @field_validator("query")
    @classmethod
    def _not_too_long(cls, value: str) -> str:
        if len(value) > MAX_QUERY_CHARS:  # here, not in the schema every request carries
            raise ValueError(f"a query is at most {MAX_QUERY_CHARS} characters")
        return value


class ForgetArgs(BaseModel):
    id: int = Field(ge=1, le=2**63 - 1)


def format_notes(notes: Sequence[Note]) -> str:
    """One line per note: ``#id [tags] text`` (a note's line breaks kept as spaces)."""
    lines = []
    for note in notes:
        tags = f"[{' '.join(note.tags)}] " if note.tags else ""
        lines.append(f"#{note.id} {tags}{' '.join(note.text.split())}")
    return "\n".join(lines)


class MemoryTools:
    def __init__(self, store: MemoryStore, agents: Mapping[str, AgentSettings]) -> None:
        self._store = store
        self._agents = agents

    def tools(self) -> list[Tool]:
        return [
            Tool("remember", "Save a note for later conversations.", RememberArgs, self._remember),
            Tool(
                "recall",
                "Search your saved notes, best match first.",
                RecallArgs,
                self._recall,
            ),
            Tool("forget", "Delete a saved note by the id recall shows.", ForgetArgs, self._forget),
        ]

    async def _remember(self, context: ToolContext, args: RememberArgs) -> str:
        tags = tuple(tag for tag in (_clean(_tag(raw)) for raw in args.tags) if tag)
        settings = self._agents.get(context.agent)
        limit = settings.memory.max_notes if settings else 1000
        try:
            note = await self._store.add(context.agent, _clean(args.text), tags, limit)
        except MemoryFull as exc:
            raise ToolError(f"not saved: {exc}; forget notes you no longer need") from None
        return f"saved as note #{note.id}"

    async def _recall(self, context: ToolContext, args: RecallArgs) -> str:
        notes = await self._store.search(context.agent, args.query, args.limit)
        if not notes:
            return "no matching notes"
        return untrusted("your notes", format_notes(notes))

    async def _forget(self, context: ToolContext, args: ForgetArgs) -> str:
        if not await self._store.forget(context.agent, args.id):
            raise ToolError(f"you have no note #{args.id}")
        return f"forgot note #{args.id}"


def _clean(text: str) -> str:
    """Storable text: no NUL, which PostgreSQL refuses (pydantic already refuses a lone
    surrogate in the arguments' JSON)."""
    return text.replace("\x00", "")


def _tag(tag: str) -> str:
    """A tag as one short word (tags are stored space-separated)."""
    return "-".join(tag.split())[:40]


class NoteRecall:
    """auto_recall: the notes most relevant to a new message, as a block put before it.

    The block goes with the user's message, not into the system prompt, so the prompt's
    stable prefix (system, tools, earlier history) stays cacheable.
    """

    def __init__(self, store: MemoryStore, count: int) -> None:
        self._store = store
        self._count = count

    async def __call__(self, agent: str, message: str) -> str | None:
        notes = await self._store.search(agent, message[:MAX_QUERY_CHARS], self._count)
        return untrusted("your notes", format_notes(notes)) if notes else None


class MemoryFeature(Feature):
    """The memory tools, in every process that runs turns."""

    name = "memory"

    def __init__(self, core: CorePorts) -> None:
        self._tools = MemoryTools(MemoryStore(core.store), core.settings.agents)

    def tools(self) -> Sequence[Tool]:
        return self._tools.tools()


def doctor_checks(settings: Settings) -> list[tuple[bool | None, str]]:
    """`roost doctor`: memory in use on a SQLite without FTS5 ranks notes crudely."""
    users = [
        name
        for name, agent in settings.agents.items()
        if agent.memory.auto_recall or set(MEMORY_TOOLS) & set(agent.tools)
    ]
    if not users or not settings.store_url.startswith("sqlite") or sqlite_has_fts5():
        return []
    return [
        (
            None,
            f"memory ({', '.join(users)}): this Python's sqlite3 has no FTS5, so notes are "
            "ranked by counting words; a Python built with a newer SQLite ranks them better",
        )
    ]

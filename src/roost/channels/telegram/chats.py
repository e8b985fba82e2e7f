"""Chats: their addresses, their session keys, and which agent each one talks to.

A chat (or a topic of a forum group) talks to one agent at a time, in one session:

- address ``telegram:<chat_id>``, or ``telegram:<chat_id>:<thread_id>`` for a topic
- session key the same, plus ``:g<n>`` once ``/new`` started generation ``n``

The chat's agent and generation are kept in the state store under
``telegram:chat:<chat_id>[:<thread_id>]`` (and cached: only this process writes them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from roost.bus.envelope import AddressError, split_address
from roost.store.state import StateStore

CHAT_PREFIX = "telegram:chat:"
_SESSION = re.compile(r"^telegram:(-?\d+)(?::(\d+))?(?::g\d+)?$")


@dataclass(frozen=True)
class ChatRef:
    """A chat, or one topic of a forum group."""

    chat_id: int
    thread_id: int | None = None

    @property
    def key(self) -> str:
        return str(self.chat_id) if self.thread_id is None else f"{self.chat_id}:{self.thread_id}"

    @property
    def address(self) -> str:
        return f"telegram:{self.key}"


def parse_target(target: str) -> tuple[int | str, int | None]:
    """``telegram:<chat_id>[:<thread_id>]`` or ``telegram:@name`` → (chat, thread)."""
    scheme, rest = split_address(target)
    if scheme != "telegram":
        raise AddressError(f"'{target}' is not a telegram: address")
    if rest.startswith("@") and len(rest) > 1:
        return rest, None
    chat, _, thread = rest.partition(":")
    try:
        return int(chat), (int(thread) if thread else None)
    except ValueError:
        raise AddressError(
            f"'{target}' is not a Telegram chat: use telegram:<chat id>[:<topic id>] "
            "or telegram:@name"
        ) from None


def parse_session(session: str) -> ChatRef | None:
    """The chat a session key belongs to, or None if it is not a Telegram chat's session."""
    match = _SESSION.match(session)
    if match is None:
        return None
    thread = match.group(2)
    return ChatRef(int(match.group(1)), int(thread) if thread else None)


@dataclass
class ChatState:
    agent: str
    generation: int = 0


class Chats:
    def __init__(
        self, store: StateStore, default_agent: Callable[[], str], known: Callable[[], list[str]]
    ) -> None:
        self._store = store
        self._default_agent = default_agent
        self._known = known
        self._cache: dict[str, ChatState] = {}

    async def get(self, chat: ChatRef) -> ChatState:
        state = self._cache.get(chat.key)
        if state is None:
            raw = await self._store.get(CHAT_PREFIX + chat.key)
            raw = raw if isinstance(raw, dict) else {}
            state = ChatState(str(raw.get("agent") or ""), int(raw.get("generation") or 0))
            self._cache[chat.key] = state
        if state.agent not in self._known():
            state.agent = self._default_agent()  # never configured, or removed since
        return state

    async def use(self, chat: ChatRef, agent: str) -> ChatState:
        state = await self.get(chat)
        state.agent = agent
        await self._save(chat, state)
        return state

    async def new_session(self, chat: ChatRef) -> ChatState:
        state = await self.get(chat)
        state.generation += 1
        await self._save(chat, state)
        return state

    def session_key(self, chat: ChatRef, state: ChatState) -> str:
        base = chat.address
        return f"{base}:g{state.generation}" if state.generation else base

    async def _save(self, chat: ChatRef, state: ChatState) -> None:
        await self._store.set(
            CHAT_PREFIX + chat.key, {"agent": state.agent, "generation": state.generation}
        )

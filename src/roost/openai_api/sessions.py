"""Which Roost session an OpenAI client's conversation continues (docs/protocol.md).

OpenAI clients resend the whole conversation with every request; Roost keeps it, so
only the newest user message becomes the turn's input, and the conversation is mapped
to a session, by the first that applies:

1. an ``X-Roost-Session`` header: that session, by its key (the client vouches for
   the history; nothing is compared);
2. the request's ``user`` field: the session ``openai-user:<user>``;
3. else a session derived from the client and the conversation's first user message,
   ``openai:<client>:<digest>``, continued while the user messages Roost stored there
   are exactly the ones the client resends before its newest. When they differ (the
   client edited, regenerated or deleted an earlier message, or the session was reset)
   the conversation branches into a new session, ``openai:<client>:<digest>-<random>``,
   whose first turn carries the client's earlier messages as context; later requests on
   that branch continue it (remembered in memory: after a restart a branch that goes on
   branches again, again with its history as context).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from roost.openai_api.wire import ChatMessage
    from roost.providers.base import Message
    from roost.store.conversations import Conversations

SESSION_HEADER = "x-roost-session"
CLIENT_HEADER = "x-roost-client"
MAX_KEY_CHARS = 200
REMEMBERED_BRANCHES = 10_000
HISTORY_PER_USER_MESSAGE = 20
"""Stored messages read per resent user message when checking a derived session
(a turn stores its user message, its answer and its tool calls and results)."""
_CLIENT_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Conversation:
    """What a request says of its conversation."""

    agent: str
    client: str
    user_texts: tuple[str, ...]
    """Every user message's text, the newest last (the turn's input)."""
    earlier: tuple[tuple[str, str], ...]
    """(role, text) of the user and assistant messages before the newest user message."""

    @property
    def newest(self) -> str:
        return self.user_texts[-1]

    @property
    def prior(self) -> tuple[str, ...]:
        return self.user_texts[:-1]


@dataclass(frozen=True)
class Placement:
    session: str
    how: str
    """``header``, ``user``, ``derived`` or ``branch`` (a new branch: earlier as context)."""


def client_name(header: str | None, user_agent: str | None) -> str:
    """The client's name, for the sender address and derived sessions: ``X-Roost-Client``,
    else the product in its ``User-Agent`` without its version (``OpenAI``), else ``client``."""
    raw = header or (user_agent or "").split("/", 1)[0].split(" ", 1)[0]
    name = _CLIENT_CHARS.sub("-", raw).strip("-")[:40]
    return name or "client"


def conversation(agent: str, client: str, messages: list[ChatMessage]) -> Conversation | None:
    """The conversation of a request, or None when its newest user message has no text
    (there is none, or it has only images or other parts Roost does not take)."""
    newest = max((i for i, message in enumerate(messages) if message.role == "user"), default=None)
    if newest is None or not messages[newest].text:
        return None
    users = tuple(m.text for m in messages[: newest + 1] if m.role == "user" and m.text)
    earlier = tuple(
        (m.role, m.text) for m in messages[:newest] if m.role in ("user", "assistant") and m.text
    )
    return Conversation(agent, client, users, earlier)


class SessionMap:
    """Places conversations in sessions, and remembers where branches went on."""

    def __init__(self, conversations: Conversations) -> None:
        self._conversations = conversations
        self._branches: OrderedDict[str, str] = OrderedDict()

    async def place(self, talk: Conversation, header: str | None, user: str | None) -> Placement:
        if header:
            return Placement(header, "header")
        if user:
            return Placement(f"openai-user:{user}", "user")
        remembered = self._branches.pop(_fingerprint(talk.agent, talk.client, talk.prior), None)
        if remembered is not None:
            return Placement(remembered, "derived")
        derived = f"openai:{talk.client}:{_digest(talk.client, talk.user_texts[:1])}"
        if await self._continues(talk, derived):
            return Placement(derived, "derived")
        branch = (
            f"openai:{talk.client}:{_digest(talk.client, talk.user_texts)}-{secrets.token_hex(4)}"
        )
        return Placement(branch, "branch" if talk.earlier else "derived")

    def went_on(self, talk: Conversation, placement: Placement) -> None:
        """The newest message went into the placement's session: the conversation's next
        request continues there (for derived sessions; a header or ``user`` says so itself)."""
        if placement.how not in ("derived", "branch"):
            return
        key = _fingerprint(talk.agent, talk.client, talk.user_texts)
        self._branches[key] = placement.session
        self._branches.move_to_end(key)
        while len(self._branches) > REMEMBERED_BRANCHES:
            self._branches.popitem(last=False)

    async def _continues(self, talk: Conversation, session: str) -> bool:
        session_id = await self._conversations.session_id(talk.agent, session)
        limit = HISTORY_PER_USER_MESSAGE * len(talk.user_texts)
        stored = await self._conversations.history(session_id, limit=limit)
        return _same_user_texts(stored, talk.prior, complete=len(stored) < limit)


def _same_user_texts(stored: list[Message], prior: tuple[str, ...], *, complete: bool) -> bool:
    texts = [message.text for message in stored if message.role == "user"]
    if not complete or len(texts) != len(prior):
        return False
    # A stored input may start with context Roost added (a system message, a branch's
    # earlier messages); the client's own text is its end.
    return all(s == p or s.endswith("\n\n" + p) for s, p in zip(texts, prior, strict=True))


def _digest(client: str, texts: tuple[str, ...]) -> str:
    hasher = hashlib.sha256(client.encode("utf-8"))
    for text in texts:
        hasher.update(b"\0" + text.encode("utf-8"))
    return hasher.hexdigest()[:16]


def _fingerprint(agent: str, client: str, texts: tuple[str, ...]) -> str:
    return f"{agent}\0{_digest(client, texts)}:{len(texts)}"

"""Who may talk to the agents: the allowlist, pairing codes, approved users. Fail closed.

- ``telegram.allowed_users`` (ids or ``@usernames``) are the owners.
- A stranger writing in a private chat gets one pairing code (valid for an hour; at
  most ``MAX_PENDING`` codes wait at a time). An owner approves it with
  ``roost pairing approve CODE`` or ``/approve CODE``; the user is then allowed,
  for good (kept in the state store).
- Everything lives in the state store, so the CLI works without ``roost run``, and
  the running process sees an approval at the stranger's next message: it reads
  the store for anyone not yet known to be allowed (allowed users are cached).

State keys: ``telegram:pairing:<CODE>``, ``telegram:approved:<user id>``,
``telegram:known:<user id>`` (the id of an owner listed by username, learnt when
they first write, so replies and alerts may go to their chat).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from roost.config.schema import TelegramConfig
from roost.store.state import StateStore

PAIRING_PREFIX = "telegram:pairing:"
APPROVED_PREFIX = "telegram:approved:"
KNOWN_PREFIX = "telegram:known:"
PAIRING_TTL_S = 3600.0
MAX_PENDING = 3
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


class PairingError(Exception):
    """The code is unknown or expired; the message says so."""


@dataclass(frozen=True)
class Pairing:
    code: str
    user_id: int
    username: str | None
    chat_id: int
    created_at: float

    @property
    def expires_at(self) -> float:
        return self.created_at + PAIRING_TTL_S

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "username": self.username,
            "chat_id": self.chat_id,
            "created_at": self.created_at,
        }


def normalize_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def display_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


class Pairings:
    """Pairing codes and approved users, on the state store alone."""

    def __init__(self, store: StateStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def pending(self) -> list[Pairing]:
        """Codes still valid, oldest first; expired ones are deleted on the way."""
        now = self._clock()
        found: list[Pairing] = []
        for key, value in (await self._store.with_prefix(PAIRING_PREFIX)).items():
            pairing = _pairing(key.removeprefix(PAIRING_PREFIX), value)
            if pairing is None or pairing.expires_at <= now:
                await self._store.delete(key)
            else:
                found.append(pairing)
        return sorted(found, key=lambda p: p.created_at)

    async def request(self, user_id: int, username: str | None, chat_id: int) -> Pairing | None:
        """A new code for this stranger, or None: they have one already, or too many wait."""
        pending = await self.pending()
        if any(p.user_id == user_id for p in pending) or len(pending) >= MAX_PENDING:
            return None
        code = "".join(secrets.choice(_ALPHABET) for _ in range(8))
        pairing = Pairing(code, user_id, username, chat_id, self._clock())
        await self._store.set(PAIRING_PREFIX + code, pairing.as_dict())
        return pairing

    async def withdraw(self, code: str) -> None:
        """Forget a code that never reached its user (the next message gets a new one)."""
        await self._store.delete(PAIRING_PREFIX + normalize_code(code))

    async def approve(self, code: str) -> Pairing:
        """Allow the user who was given ``code``; raises ``PairingError``."""
        normalized = normalize_code(code)
        key = PAIRING_PREFIX + normalized
        pairing = _pairing(normalized, await self._store.get(key))
        if pairing is None:
            raise PairingError(f"no pairing code {code!r} is waiting (see `roost pairing list`)")
        await self._store.delete(key)
        if pairing.expires_at <= self._clock():
            raise PairingError(f"pairing code {display_code(normalized)} has expired")
        await self._store.set(
            APPROVED_PREFIX + str(pairing.user_id),
            {"username": pairing.username, "chat_id": pairing.chat_id, "at": self._clock()},
        )
        return pairing

    async def approved(self) -> dict[int, dict[str, Any]]:
        rows = await self._store.with_prefix(APPROVED_PREFIX)
        return {int(key.removeprefix(APPROVED_PREFIX)): value for key, value in rows.items()}

    async def is_approved(self, user_id: int) -> bool:
        return await self._store.get(APPROVED_PREFIX + str(user_id)) is not None


def _pairing(code: str, value: Any) -> Pairing | None:
    if not isinstance(value, dict):
        return None
    try:
        return Pairing(
            code,
            int(value["user_id"]),
            value.get("username"),
            int(value["chat_id"]),
            float(value["created_at"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def owners(config: TelegramConfig) -> tuple[set[int], set[str]]:
    """``telegram.allowed_users`` as user ids and lower-case usernames (without ``@``)."""
    ids: set[int] = set()
    names: set[str] = set()
    for entry in config.allowed_users:
        text = str(entry).strip()
        if isinstance(entry, int) or text.lstrip("-").isdigit():
            ids.add(int(text))
        elif text.lstrip("@"):
            names.add(text.lstrip("@").lower())
    return ids, names


class Access:
    """The running channel's view: owners from the config, the rest from the store."""

    def __init__(self, config: TelegramConfig, pairings: Pairings, store: StateStore) -> None:
        self.pairings = pairings
        self._store = store
        self.owner_ids, self.owner_names = owners(config)
        self.groups = set(config.groups.allowed)
        self._allowed: set[int] = set(self.owner_ids)
        self._names_by_id: dict[int, str] = {}

    @property
    def nobody(self) -> bool:
        return not self.owner_ids and not self.owner_names

    def is_owner(self, user_id: int, username: str | None) -> bool:
        return user_id in self.owner_ids or (username or "").lower() in self.owner_names

    async def is_allowed(self, user_id: int, username: str | None) -> bool:
        if user_id in self._allowed:
            return True
        if self.is_owner(user_id, username):
            await self._learn(user_id, (username or "").lower())
            return True
        if await self.pairings.is_approved(user_id):
            self._allowed.add(user_id)
            return True
        return False

    async def chat_for_delivery(self, chat: int | str) -> int | None:
        """The chat id to send to, or None if that chat may not get messages."""
        if isinstance(chat, str):
            return await self._id_for_name(chat.lstrip("@").lower())
        if chat < 0:
            return chat if chat in self.groups else None
        if chat in self._allowed:
            return chat
        if await self.pairings.is_approved(chat):
            self._allowed.add(chat)
            return chat
        name = await self._store.get(KNOWN_PREFIX + str(chat))
        if isinstance(name, str) and name in self.owner_names:
            self._allowed.add(chat)
            return chat
        return None

    async def _learn(self, user_id: int, username: str) -> None:
        self._allowed.add(user_id)
        if username and self._names_by_id.get(user_id) != username:
            self._names_by_id[user_id] = username
            await self._store.set(KNOWN_PREFIX + str(user_id), username)

    async def _id_for_name(self, name: str) -> int | None:
        if name not in self.owner_names:
            return None
        for key, value in (await self._store.with_prefix(KNOWN_PREFIX)).items():
            if value == name:
                return int(key.removeprefix(KNOWN_PREFIX))
        return None

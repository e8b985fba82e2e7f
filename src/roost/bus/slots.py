"""How many turns go on at once (``max_concurrent_turns``), and who goes next.

At most ``max_turns`` turns of accepted envelopes go on at once, across all agents;
the others wait (already stored, so a restart runs them too) in arrival order. A
delegated message (``depth`` > 0) runs under its caller's slot: it never waits for
one, so a chain of delegations cannot deadlock on the limit. The limit keeps the
database's queue short, so what must be prompt (a job firing, a message being
accepted) is not stuck behind thousands of turns' transactions.

Per-session order is not kept here but by the agent's lanes (``agents/actor.py``),
which every turn goes through. A session's later messages are held back here only so
they take no slot while its lane would keep them waiting anyway; they are let go one
at a time, in the order they came, as each earlier one ends.

A turn that waits for something outside (the owner's approval) lends its slot
(``waiting_without_slot``): another turn runs meanwhile, and the waiting turn takes
a slot back, before any new message, once it goes on.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from roost.bus.envelope import Envelope

DEFAULT_MAX_TURNS = 32
"""Turns going on at once: enough to keep a model's latency hidden."""

Spawn = Callable[[Envelope, bool], "asyncio.Task[None]"]
"""Starts an envelope's turn (``recovered`` or not) and returns its task."""


class TurnSlots:
    def __init__(self, spawn: Spawn, max_turns: int = DEFAULT_MAX_TURNS) -> None:
        self._spawn = spawn
        self._max_turns = valid_max_turns(max_turns)
        self._stopped = False
        self._gated = 0
        """Turns holding a slot (started and not ended)."""
        self._ready: deque[tuple[Envelope, bool]] = deque()
        """Envelopes waiting for a slot, oldest first: ``(envelope, recovered)``."""
        self._held_back: dict[tuple[str, str], deque[tuple[Envelope, bool]]] = {}
        """Sessions with a message going on or waiting in ``_ready``; their later
        messages are held back here, without a slot, until it ended (their lane would
        keep them waiting behind it anyway)."""
        self._holding: set[int] = set()
        """Envelope ids whose turn holds a slot."""
        self._lent: set[int] = set()
        """Envelope ids whose turn lent its slot while it waits (``waiting_without_slot``)."""
        self._reclaiming: deque[tuple[int, asyncio.Future[None]]] = deque()
        """Lent turns going on again, waiting to take a slot back (before ``_ready``)."""

    @property
    def max_turns(self) -> int:
        return self._max_turns

    def set_max_turns(self, max_turns: int) -> None:
        """Change how many turns go on at once (at least 1)."""
        self._max_turns = valid_max_turns(max_turns)
        self._admit()

    @property
    def waiting(self) -> int:
        """Accepted messages waiting for a turn slot."""
        return len(self._ready) + sum(len(queue) for queue in self._held_back.values())

    def start(self, envelope: Envelope, recovered: bool) -> None:
        """Start the envelope's turn now, or when a slot (and its session) is free."""
        if self._stopped:
            return  # stays pending: runs at the next start
        if envelope.depth > 0:
            self._spawn(envelope, recovered)  # under its caller's slot
            return
        key = (envelope.recipient, envelope.session)
        behind = self._held_back.get(key)
        if behind is not None:
            behind.append((envelope, recovered))  # after the session's earlier message
            return
        self._held_back[key] = deque()
        self._ready.append((envelope, recovered))
        self._admit()

    def stop(self) -> None:
        """Start nothing more; what waits stays pending in the inbox."""
        self._stopped = True
        self._ready.clear()
        self._held_back.clear()
        for _, waiter in self._reclaiming:  # they go on (and are cancelled) without one
            if not waiter.done():
                waiter.set_result(None)
        self._reclaiming.clear()

    @asynccontextmanager
    async def waiting_without_slot(self, envelope_id: int | None) -> AsyncIterator[None]:
        """Lend the slot of ``envelope_id``'s turn while the block waits; take one back
        (before new messages get one) when it ends. A turn holding no slot (delegated,
        or run outside the inbox) simply waits."""
        if envelope_id is None or envelope_id not in self._holding:
            yield
            return
        self._holding.discard(envelope_id)
        self._lent.add(envelope_id)
        self._gated -= 1
        self._admit()
        try:
            yield
        except BaseException:
            raise  # the turn is ending (cancelled, failed): it needs no slot back
        waiter = asyncio.get_running_loop().create_future()
        self._reclaiming.append((envelope_id, waiter))
        self._admit()
        await waiter

    def _admit(self) -> None:
        while self._reclaiming and self._gated < self._max_turns and not self._stopped:
            envelope_id, waiter = self._reclaiming.popleft()
            if envelope_id not in self._lent:
                continue  # its turn ended while it waited
            self._lent.discard(envelope_id)
            self._holding.add(envelope_id)
            self._gated += 1
            if not waiter.done():
                waiter.set_result(None)
        while self._ready and self._gated < self._max_turns and not self._stopped:
            envelope, recovered = self._ready.popleft()
            self._gated += 1
            self._holding.add(envelope.id)
            task = self._spawn(envelope, recovered)
            task.add_done_callback(functools.partial(self._ended, envelope))

    def _ended(self, envelope: Envelope, _task: object) -> None:
        """A gated turn ended: its session's next message queues for a slot; admit more."""
        if envelope.id in self._lent:
            self._lent.discard(envelope.id)  # it had lent its slot: nothing to give back
        else:
            self._gated -= 1
            self._holding.discard(envelope.id)
        if self._stopped:
            return
        key = (envelope.recipient, envelope.session)
        behind = self._held_back.get(key)
        if behind:
            self._ready.append(behind.popleft())
        else:
            self._held_back.pop(key, None)
        self._admit()


def valid_max_turns(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_turns must be a whole number of at least 1, not {value!r}")
    return value

"""The agent actor: a mailbox, one lane per session, supervision.

Turns in one session run one at a time, in arrival order; sessions of one agent,
and different agents, run concurrently. An unexpected exception in a turn is
logged and answered with an error result; the agent keeps serving.

The lanes are Roost's one owner of per-session order (``run_turn`` relies on one turn
per session at a time): every way to a turn goes through them, the router's turns
(which ``bus/slots.py`` only admits to a turn slot), delegated messages (which take no
slot) and ``roost ask`` run in process (which bypasses the router).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from roost.agents.observer import TurnObserver
from roost.agents.turn import TurnDeps, TurnOrigin, TurnResult, run_turn
from roost.store.turn_status import TurnStatus
from roost.supervise import supervise

if TYPE_CHECKING:
    from roost.config.settings import AgentSettings

log = logging.getLogger(__name__)

TurnRunner = Callable[
    [TurnDeps, str, str, TurnObserver | None, TurnOrigin | None], Coroutine[Any, Any, TurnResult]
]


class AgentStopped(Exception):
    """The agent is shutting down and takes no new messages."""


@dataclass
class _Request:
    session: str
    text: str
    observer: TurnObserver | None
    origin: TurnOrigin | None
    reply: asyncio.Future[TurnResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Agent:
    def __init__(
        self,
        deps: TurnDeps,
        runner: TurnRunner = run_turn,
        on_turn: Callable[[TurnResult], None] | None = None,
    ) -> None:
        self.deps = deps
        self.name = deps.settings.name
        self._runner = runner
        self._on_turn = on_turn
        self._mailbox: asyncio.Queue[_Request] = asyncio.Queue()
        self._lanes: dict[str, asyncio.Queue[_Request]] = {}
        self._lane_tasks: dict[str, asyncio.Task[None]] = {}
        self._running: dict[str, asyncio.Task[TurnResult]] = {}
        self._dispatcher: asyncio.Task[None] | None = None
        self._accepting = False

    def start(self) -> None:
        self._accepting = True
        self._dispatcher = asyncio.create_task(
            supervise(f"agent {self.name}", self._dispatch), name=f"agent:{self.name}"
        )

    async def ask(
        self,
        session: str,
        text: str,
        observer: TurnObserver | None = None,
        origin: TurnOrigin | None = None,
    ) -> TurnResult:
        """Queue a message for ``session`` and wait for the turn's result.

        A turn stopped by ``cancel`` answers with status ``interrupted``; if the
        agent stops first, this raises ``asyncio.CancelledError``.
        """
        if not self._accepting:
            raise AgentStopped(f"agent {self.name} is not running")
        request = _Request(session, text, observer, origin)
        self._mailbox.put_nowait(request)
        return await request.reply

    def cancel(self, session: str) -> bool:
        """Cancel the turn running in ``session``; queued messages still run after it."""
        task = self._running.get(session)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    @property
    def settings(self) -> AgentSettings:
        """The agent's configuration (model, tools, limits)."""
        return self.deps.settings

    @property
    def busy_sessions(self) -> list[str]:
        return list(self._running)

    @property
    def queue_depth(self) -> int:
        """Messages waiting for their turn (not counting running turns)."""
        return self._mailbox.qsize() + sum(lane.qsize() for lane in self._lanes.values())

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop taking messages, let running turns finish for ``grace_s``, then cancel them.

        Cancelled turns are recorded as interrupted by the turn itself.
        """
        self._accepting = False
        if self._dispatcher:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
        while not self._mailbox.empty():
            self._mailbox.get_nowait().reply.cancel()
        lanes = list(self._lane_tasks.values())
        if lanes:
            _, pending = await asyncio.wait(lanes, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _dispatch(self) -> None:
        while True:
            request = await self._mailbox.get()
            lane = self._lanes.get(request.session)
            if lane is None:
                lane = self._lanes[request.session] = asyncio.Queue()
                self._lane_tasks[request.session] = asyncio.create_task(
                    self._serve_lane(request.session, lane),
                    name=f"agent:{self.name}:{request.session}",
                )
            lane.put_nowait(request)

    async def _serve_lane(self, session: str, lane: asyncio.Queue[_Request]) -> None:
        # A lane lives while its session has work; the next message starts a new one.
        try:
            while not lane.empty():
                await self._serve(lane.get_nowait())
        finally:
            self._lanes.pop(session, None)
            self._lane_tasks.pop(session, None)
            while not lane.empty():
                lane.get_nowait().reply.cancel()

    async def _serve(self, request: _Request) -> None:
        if request.reply.cancelled():
            return
        turn = asyncio.create_task(
            self._runner(
                self.deps, request.session, request.text, request.observer, request.origin
            ),
            name=f"turn:{self.name}:{request.session}",
        )
        self._running[request.session] = turn
        try:
            result = await turn
        except asyncio.CancelledError:
            if not turn.cancelled() or _being_cancelled():
                request.reply.cancel()
                turn.cancel()
                raise
            # `cancel(session)` stopped this turn alone; the lane goes on.
            result = TurnResult(
                agent=self.name,
                session=request.session,
                text="Cancelled.",
                status=TurnStatus.INTERRUPTED,
            )
        except Exception as exc:
            log.exception("agent %s: turn in session %s failed", self.name, request.session)
            result = TurnResult(
                agent=self.name,
                session=request.session,
                text=f"Internal error in agent {self.name}: {type(exc).__name__}: {exc}",
                status=TurnStatus.ERROR,
                error=repr(exc),
            )
        finally:
            self._running.pop(request.session, None)
        if self._on_turn:
            self._on_turn(result)
        with contextlib.suppress(asyncio.InvalidStateError):
            request.reply.set_result(result)


def _being_cancelled() -> bool:
    """Whether the current task itself (not a child) was asked to stop."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0

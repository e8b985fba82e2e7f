"""Compaction: a long session's oldest turns summarised instead of silently dropped.

When a session's history no longer fits ``max_context_tokens``, the oldest turns
(about half of what is sent) are folded into the session's running summary by one
call on the agent's routine model (ledger role ``summary``). The summary is updated,
never regenerated: the call gets the previous summary and the newly scrolled-out
messages. It is sent as the first message after the system prompt, in place of
what it covers, and changes only when the next compaction happens, so between
compactions the prompt's prefix (tools, system, summary, the kept messages) stays
the same and the provider's prompt cache keeps serving it.

Folding happens at user-message boundaries, so a tool call never loses its result,
and never reaches the current turn, so the newest user message is always sent. A
summary call that fails costs this turn the summary only: it falls back to the
sliding window (the newest messages that fit) and the next turn tries again. The
full history stays in the store; ``agents.<n>.compaction: off`` keeps the sliding
window alone.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from roost.agents.context import fit_history, history_budget, message_tokens, repair_tool_pairs
from roost.config.settings import AgentSettings
from roost.ledger.ledger import CallRecord, Ledger
from roost.ledger.roles import LedgerRole
from roost.providers.base import Message, ModelRequest, Provider, ToolSpec, Usage
from roost.store.summaries import CompactionSummary, Summaries

log = logging.getLogger(__name__)

SUMMARY_HEADING = "[Summary of the earlier part of this conversation]"
"""Opens the message that stands in for the compacted messages (what the model sees)."""
SUMMARY_SYSTEM = (
    "You keep the running summary of a long conversation between a user and an "
    "assistant, so the assistant can continue it without the old messages. Merge the "
    "new messages into the existing summary. Keep every fact, name, number, date, "
    "preference, decision and open task the user stated, and what tools found or "
    "changed; drop greetings and repetition. Plain text, at most {words} words. "
    "Reply with the updated summary only."
)
MAX_FOLDS_PER_CALL = 4
"""Summary calls one model call may wait for (a long backlog); then the window slides."""
_TOOL_TEXT_LIMIT = 1_000
"""Characters of a tool's arguments or result shown to the summariser."""

Spent = Callable[[float, Usage], None]
"""Told the cost and usage of each summary call (the turn adds them to its own)."""


@dataclass(frozen=True)
class SummaryCall:
    """Where a summary call goes and is accounted."""

    provider: Provider
    ledger: Ledger
    session_key: str
    turn_id: int
    on_spent: Spent


class ContextWindow:
    """What a turn sends as history: the summary, then the messages it does not cover."""

    def __init__(
        self,
        settings: AgentSettings,
        summaries: Summaries,
        session_id: int,
        ids: Sequence[int],
        summary: CompactionSummary | None,
        system: str | None = None,
    ) -> None:
        self._settings = settings
        self._system = settings.system if system is None else system
        """The system prompt as sent (the turn's adds the untrusted preamble)."""
        self._summaries = summaries
        self.session_id = session_id
        self._ids = list(ids)
        """Stored ids of the turn's starting history; messages added later have none."""
        self._summary = summary
        self._failed = False
        self._lead_for: CompactionSummary | None = None
        self._lead_message = Message(role="user", text="")

    async def messages(
        self, history: Sequence[Message], tools: Sequence[ToolSpec], call: SummaryCall
    ) -> list[Message]:
        """The history to send for the next call of the turn, compacting it if need be."""
        settings = self._settings
        if not settings.compaction:
            return fit_history(history, self._system, tools, settings.max_context_tokens)
        budget = history_budget(self._system, tools, settings.max_context_tokens)
        folds = 0
        while True:
            # Each message's tokens are counted once per pass: this runs before every call.
            visible = list(history[self._first_uncovered(history) :])
            lead = self._lead()
            if _tokens(lead, visible) <= budget:
                return lead + repair_tool_pairs(visible)
            if self._failed or folds == MAX_FOLDS_PER_CALL:
                break
            if not await self._fold(history, budget, call):
                break
            folds += 1
        # Over budget even so (a failed summary, or a huge current turn): slide.
        room = budget - _tokens(lead, [])
        return lead + fit_history(visible, "", (), max(room, 0))

    async def _fold(self, history: Sequence[Message], budget: int, call: SummaryCall) -> bool:
        """Fold the oldest uncovered messages into the summary; whether it was done."""
        start = self._first_uncovered(history)
        visible = history[start:]
        # At most about one context's worth per summary call, so a long backlog (a session
        # that predates compaction) goes in several calls, each of a size the model takes.
        fold = _fold_point(visible, budget // 2, self._settings.max_context_tokens)
        if fold == 0 or start + fold > len(self._ids):
            return False  # nothing before the current turn to fold
        try:
            text = await self._summarise(visible[:fold], call)
            summary = CompactionSummary(text, self._ids[start + fold - 1])
            await self._summaries.save(self.session_id, summary)
        except Exception:
            log.warning(
                "agent %s: summarising the oldest messages failed; "
                "sending the newest that fit instead for this turn",
                self._settings.name,
                exc_info=True,
            )
            self._failed = True
            return False
        self._summary = summary
        return True

    def _first_uncovered(self, history: Sequence[Message]) -> int:
        if self._summary is None:
            return 0
        # The ids rise with the history (it is read in id order): the first one the
        # summary does not cover is found by bisection, not by a scan before every call.
        end = min(len(self._ids), len(history))
        return bisect.bisect_right(self._ids, self._summary.covers_through, 0, end)

    def _lead(self) -> list[Message]:
        summary = self._summary
        if summary is None:
            return []
        # The same message while the summary stands, so its encoding (``Message.encoded``)
        # is made once, not before every call.
        if self._lead_for is not summary:
            self._lead_message = Message(role="user", text=f"{SUMMARY_HEADING}\n{summary.text}")
            self._lead_for = summary
        return [self._lead_message]

    async def _summarise(self, folded: Sequence[Message], call: SummaryCall) -> str:
        settings = self._settings
        limit = max(256, min(2_048, settings.max_context_tokens // 8))
        previous = self._summary.text if self._summary is not None else "(none yet)"
        prompt = f"Existing summary:\n{previous}\n\nMessages to fold into it:\n{transcript(folded)}"
        request = ModelRequest(
            model=settings.model,
            system=SUMMARY_SYSTEM.format(words=limit * 3 // 4),
            messages=(Message(role="user", text=prompt),),
            max_tokens=limit,
        )
        started = time.perf_counter()
        error: str | None = None
        usage = Usage()
        model = settings.model
        try:
            response = await call.provider.complete(request)
            usage, model = response.usage, response.model or settings.model
            if not response.text.strip():
                raise ValueError("the summary came back empty")
            return response.text.strip()
        except Exception as exc:
            error = str(exc) or type(exc).__name__
            raise
        finally:
            record = CallRecord(
                agent=settings.name,
                session_key=call.session_key,
                provider=call.provider.name,
                model=model,
                usage=usage,
                duration_ms=int((time.perf_counter() - started) * 1000),
                turn_id=call.turn_id,
                error=error,
                role=LedgerRole.SUMMARY,
            )
            call.on_spent(await call.ledger.record(record), usage)


def transcript(messages: Sequence[Message]) -> str:
    """Messages as plain lines for the summariser: who said what, which tool did what."""
    lines: list[str] = []
    for message in messages:
        if message.role == "user":
            lines.append(f"User: {message.text}")
        elif message.role == "assistant":
            if message.text.strip():
                lines.append(f"Assistant: {message.text}")
            for tool_call in message.tool_calls:
                arguments = tool_call.arguments_json[:_TOOL_TEXT_LIMIT]
                lines.append(f"Assistant called {tool_call.name}({arguments})")
        else:
            outcome = "failed" if message.is_error else "returned"
            result = message.text[:_TOOL_TEXT_LIMIT]
            lines.append(f"Tool {message.tool_name or '?'} {outcome}: {result}")
    return "\n".join(lines)


def _tokens(lead: Sequence[Message], messages: Sequence[Message]) -> int:
    # map, not a generator expression: this runs over the whole history before every call.
    return sum(map(message_tokens, lead)) + sum(map(message_tokens, messages))


def _fold_point(visible: Sequence[Message], keep: int, most: int) -> int:
    """Where to cut: the first user message from which at most ``keep`` tokens remain, or
    before which at most ``most`` tokens are folded, whichever comes first (but at least
    one turn); never past the current turn's user message; 0 when there is no cut."""
    last_user = max((i for i, m in enumerate(visible) if m.role == "user"), default=0)
    remaining = _tokens([], visible)
    folded = 0
    for index, message in enumerate(visible):
        if index > 0 and message.role == "user":
            next_turn = _turn_tokens(visible, index)
            if remaining <= keep or index == last_user or folded + next_turn > most:
                return index
        remaining -= message_tokens(message)
        folded += message_tokens(message)
    return 0


def _turn_tokens(messages: Sequence[Message], start: int) -> int:
    """Tokens of the turn that begins at ``start`` (up to the next user message)."""
    total = message_tokens(messages[start])
    for message in messages[start + 1 :]:
        if message.role == "user":
            break
        total += message_tokens(message)
    return total

"""The ``plan`` tool: the routine model asks the agent's strong planner model one question.

Routine turns stay on the cheap ``model``; only when it decides a step needs planning does it
call ``plan``, which makes one call on ``planner_model`` (no tools, a short system prompt) and
hands the answer back as the tool's result. The call is priced and recorded in the ledger with
the role ``planner``, so `roost cost --by role` shows what planning cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel, Field, ValidationError

from roost.ledger.ledger import CallRecord, Ledger
from roost.ledger.roles import LedgerRole
from roost.providers.base import (
    Message,
    ModelRequest,
    Provider,
    ProviderError,
    ToolCall,
    ToolSpec,
    Usage,
)
from roost.tools.registry import Tool, ToolOutcome

PLAN_TOOL = "plan"
PLANNER_SYSTEM = (
    "You are the planner for an assistant that does the work itself. Answer its question "
    "with a short, concrete plan: the steps in order, what to check, and the risks. "
    "You cannot use tools; do not ask questions back."
)
PLANNER_MAX_TOKENS = 2048


class PlanArguments(BaseModel):
    question: str = Field(min_length=1, max_length=20_000, description="What to plan or decide.")
    context: str | None = Field(
        default=None, max_length=100_000, description="Facts the planner needs (optional)."
    )


async def _unused(_context: object, _arguments: object) -> str:  # pragma: no cover
    raise AssertionError("the plan tool is run by the turn, not the registry")


PLAN_SPEC: ToolSpec = Tool(
    PLAN_TOOL,
    "Ask a stronger model for a plan before a hard or multi-step task; returns its answer.",
    PlanArguments,
    _unused,
).spec


@dataclass(frozen=True)
class Planner:
    """An agent's planner model and where its calls are recorded."""

    provider: Provider
    model: str
    ledger: Ledger
    tool_name: ClassVar[str] = PLAN_TOOL
    spec: ClassVar[ToolSpec] = PLAN_SPEC
    """The ``plan`` tool the routine model is offered (the turn runs it, by ``tool_name``)."""

    async def answer(
        self, call: ToolCall, agent: str, session: str, turn_id: int | None
    ) -> tuple[ToolOutcome, float]:
        """The planner's answer to one ``plan`` call (or why there is none), and its cost."""
        try:
            arguments = PlanArguments.model_validate(call.arguments())
        except (ValidationError, ValueError) as exc:
            return ToolOutcome(f"invalid arguments for plan: {exc}", True), 0.0
        text = arguments.question
        if arguments.context:
            text = f"{text}\n\nContext:\n{arguments.context}"
        request = ModelRequest(
            model=self.model,
            system=PLANNER_SYSTEM,
            messages=(Message(role="user", text=text),),
            max_tokens=PLANNER_MAX_TOKENS,
        )
        started = time.perf_counter()
        error: str | None = None
        try:
            response = await self.provider.complete(request, None)
        except ProviderError as exc:
            response, error = None, str(exc)
        cost = await self.ledger.record(
            CallRecord(
                agent=agent,
                session_key=session,
                provider=self.provider.name,
                model=response.model if response and response.model else self.model,
                usage=response.usage if response else Usage(),
                duration_ms=int((time.perf_counter() - started) * 1000),
                turn_id=turn_id,
                error=error,
                role=LedgerRole.PLANNER,
            )
        )
        if response is None:
            return ToolOutcome(f"the planner model failed: {error}", True), cost
        return ToolOutcome(response.text or "(the planner gave no answer)", False), cost

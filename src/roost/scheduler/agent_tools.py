"""schedule_job, list_jobs and cancel_job: agents that set reminders and recurring work.

A job an agent creates belongs to it (owner ``agent:<name>``) and runs on it; an
agent sees and cancels only its own jobs. Results go to the addresses given, or
else back where the request that created the job came from (its ``reply_to``).
Contributed by the scheduler feature (roost.scheduler.service, ``tools()``), which
binds them to the running process.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, Field

from roost.config.schedules import is_delivery_address
from roost.scheduler.errors import JobError
from roost.scheduler.model import Job, agent_owner
from roost.tools.registry import Tool, ToolContext, ToolError

if TYPE_CHECKING:
    from roost.scheduler.api import JobsApi

WHEN_HELP = (
    'cron ("0 9 * * 1-5"), "every 15m", "at 2026-12-01T09:00" (local time unless it has '
    'an offset) or "in 2h"'
)
WHEN_SHORT = 'cron, "every 15m", "at <ISO time>" or "in 2h"'
"""What the schema says (paid on every request); a refused ``when`` answers WHEN_HELP."""


class ScheduleJobArgs(BaseModel):
    name: str | None = Field(default=None, description="Unique; letters, digits, - _ .")
    when: str = Field(min_length=1, description=WHEN_SHORT)
    prompt: str = Field(min_length=1, description="Self-contained task for each run")
    deliver: list[str] | None = Field(
        default=None,
        description="Addresses for answers (telegram:<chat id>, agent:<name>…), default here. "
        "A run answering NOTHING sends nothing.",
    )


class JobNameArgs(BaseModel):
    name: str = Field(min_length=1)


class NoArgs(BaseModel):
    pass


def split_when(when: str) -> tuple[str | None, str | None, str | None]:
    """``when`` as ``(cron, every, at)``, exactly one of them set."""
    text = " ".join(when.split())
    lowered = text.lower()
    if lowered.startswith("every "):
        return None, text[6:], None
    if lowered.startswith("at "):
        return None, None, text[3:]
    if lowered.startswith("in "):
        return None, None, text
    return text, None, None


class _Addressed(Protocol):
    @property
    def reply_to(self) -> str | None: ...


class EnvelopeLookup(Protocol):
    """Where the tools find the request's envelope (the core's outbox records)."""

    async def envelope(self, envelope_id: int) -> _Addressed | None: ...


class SchedulingTools:
    def __init__(self, api: JobsApi, envelopes: EnvelopeLookup) -> None:
        self._api = api
        self._envelopes = envelopes

    def tools(self) -> list[Tool]:
        return [
            Tool(
                "schedule_job",
                # ``when``'s own description says how to write it: said once, not twice.
                "Schedule yourself to run a prompt later or repeatedly.",
                ScheduleJobArgs,
                self._schedule_job,
            ),
            Tool("list_jobs", "List your scheduled jobs.", NoArgs, self._list_jobs),
            Tool("cancel_job", "Cancel one of your scheduled jobs.", JobNameArgs, self._cancel),
        ]

    async def _schedule_job(self, context: ToolContext, args: ScheduleJobArgs) -> str:
        deliver = args.deliver if args.deliver is not None else await self._reply_to(context)
        name = args.name or _made_up_name(context.agent, args.prompt)
        cron, every, at = split_when(args.when)
        try:
            job = await self._api.add(
                name,
                agent=context.agent,
                prompt=args.prompt,
                deliver=deliver,
                cron=cron,
                every=every,
                at=at,
                owner=agent_owner(context.agent),
            )
        except JobError as exc:
            raise ToolError(f"{exc} (when: {WHEN_HELP})") from None
        where = ", ".join(job.deliver) or "nowhere (the answer stays in the job's session)"
        return f"scheduled job '{job.name}': {_line(job)}; answers go to {where}"

    async def _list_jobs(self, context: ToolContext, _: NoArgs) -> str:
        jobs = await self._api.list_jobs(as_owner=agent_owner(context.agent))
        if not jobs:
            return "you have no scheduled jobs"
        return "\n".join(f"- {job.name}: {_line(job)} — {job.prompt[:80]}" for job in jobs)

    async def _cancel(self, context: ToolContext, args: JobNameArgs) -> str:
        try:
            job = await self._api.remove(args.name.strip(), as_owner=agent_owner(context.agent))
        except JobError as exc:
            raise ToolError(str(exc)) from None
        return f"cancelled job '{job.name}'"

    async def _reply_to(self, context: ToolContext) -> list[str]:
        if context.envelope_id is None:
            return []
        envelope = await self._envelopes.envelope(context.envelope_id)
        target = envelope.reply_to if envelope else None
        return [target] if target and is_delivery_address(target) else []


def _line(job: Job) -> str:
    state = "" if job.state == "active" else f" [{job.state}]"
    upcoming = job.next_due.astimezone().strftime("%Y-%m-%d %H:%M %Z") if job.next_due else "-"
    return f"{job.describe()}, next run {upcoming}{state}"


def _made_up_name(agent: str, prompt: str) -> str:
    words = "-".join("".join(c for c in w if c.isalnum()) for w in prompt.lower().split()[:3])
    stem = "-".join(part for part in (agent, words) if part)[:48].strip("-") or "job"
    return f"{stem}-{secrets.token_hex(2)}"

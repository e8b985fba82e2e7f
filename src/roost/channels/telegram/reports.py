"""The texts of /agents, /status, /cost and /jobs (Markdown, short enough for a phone)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from roost.features.jobs import JobError, JobOperations
from roost.ledger.budget import period_start
from roost.ledger.cost_report import CostReport, cost_report, usd_text
from roost.ledger.ledger import Ledger, UsageTotals

if TYPE_CHECKING:
    from roost.ports import CorePorts

JOBS_USAGE = "Usage: /jobs, /jobs run NAME, /jobs pause NAME, /jobs resume NAME"


def agents_text(core: CorePorts, current: str) -> str:
    lines = ["**Agents**"]
    for name, agent in core.agents.items():
        busy = len(agent.busy_sessions)
        status = f"working ({busy})" if busy else "idle"
        if agent.queue_depth:
            status += f", {agent.queue_depth} queued"
        marker = " ← this chat" if name == current else ""
        lines.append(f"• **{name}** — {agent.settings.model_ref}, {status}{marker}")
    return "\n".join(lines) if len(lines) > 1 else "No agents are configured."


async def status_text(core: CorePorts) -> str:
    health = core.health()
    busy = sum(len(agent.busy_sessions) for agent in core.agents.values())
    queued = sum(agent.queue_depth for agent in core.agents.values())
    spent = await core.usage.spent(period_start("daily"))
    lines = [
        "**Status**",
        f"Up {_duration(time.time() - core.started_at)}",
        f"Agents: {len(core.agents)} ({busy} working, {queued} queued)",
        f"Messages in progress: {core.inbox.in_flight}; replies being sent: "
        f"{core.outbox.in_flight}",
        f"Spent today: ${spent:.4f}",
    ]
    if core.budget is not None and core.budget.notices:
        lines += [f"⚠ {notice}" for notice in core.budget.notices[-3:]]
    components: dict[str, Any] = health.get("components", {})
    for name, component in components.items():
        if name != "store":
            lines.append(f"{name}: {component.get('state', '?')}{_error(component)}")
    return "\n".join(lines)


def _error(component: dict[str, Any]) -> str:
    error = component.get("last_error") if component.get("state") == "degraded" else None
    return f" ({error})" if error else ""


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s"


async def cost_text(ledger: Ledger) -> str:
    """Today and this month (local calendar), compactly; the projection at the end."""
    today = await cost_report(ledger, period_start("daily"), "agent")
    month = await cost_report(ledger, period_start("monthly"), "model")
    projected = month.projection.projected_month_usd
    return "\n\n".join(
        [
            _report("Today", today),
            _report("This month", month),
            f"Projected this month: ${projected:.2f} (at the last 7 days' rate)",
        ]
    )


def _report(title: str, report: CostReport) -> str:
    lines = [
        f"**{title}: {usd_text(report.total)}** ({_calls(report.total)}{_cached(report.total)})"
    ]
    for name, totals in report.groups.items():
        label = name if report.by == "agent" else f"`{name}`"
        lines.append(f"• {label}: {usd_text(totals)} ({_calls(totals)})")
    return "\n".join(lines)


def _calls(totals: UsageTotals) -> str:
    return f"{totals.calls} call{'s' if totals.calls != 1 else ''}"


def _cached(totals: UsageTotals) -> str:
    share = totals.cache_share
    return "" if share is None else f", {share:.0%} of input cached"


async def jobs_text(core: CorePorts, args: str) -> str:
    api = core.jobs()
    if api is None:
        return "The scheduler is not running in this Roost."
    action, _, name = args.partition(" ")
    name = name.strip()
    try:
        if not action:
            return await _list_jobs(api)
        if action in ("run", "pause", "resume") and name:
            return await _job_action(api, action, name)
    except JobError as exc:
        return str(exc)
    return JOBS_USAGE


async def _list_jobs(api: JobOperations) -> str:
    jobs = await api.list_jobs()
    if not jobs:
        return "No jobs. Add some under schedules: in the config, or ask an agent."
    lines = ["**Jobs**"]
    for job in jobs:
        due = job.next_due.strftime("%Y-%m-%d %H:%M UTC") if job.next_due else "not scheduled"
        last = f", last run {job.last_status}" if job.last_status else ""
        lines.append(
            f"• **{job.name}** ({job.agent}) — {job.describe()}; {job.state}, next {due}{last}"
        )
    return "\n".join(lines)


async def _job_action(api: JobOperations, action: str, name: str) -> str:
    if action == "run":
        run = await api.run_now(name)
        if run.id == 0:
            return f"Job {name} is still running; this run will start after it."
        return f"Started job {name} (run {run.id}); its answer goes where the job delivers."
    if action == "pause":
        await api.pause(name)
        return f"Paused job {name}. /jobs resume {name} to go on."
    job = await api.resume(name)
    due = job.next_due.strftime("%Y-%m-%d %H:%M UTC") if job.next_due else "not scheduled"
    return f"Resumed job {name}; next run {due}."

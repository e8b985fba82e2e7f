"""The config file's ``schedules:`` into the ``jobs`` table: at every start, and at a
config reload (`roost reload`, SIGHUP) while `roost run` serves.

Config jobs are matched by name and owned by ``config``. A job whose timing is
unchanged keeps its place in time (so missed runs are caught up, and a run already
recorded is not run again); a changed timing starts afresh from now. A job gone from
the file, or ``enabled: false``, is ``disabled``: it stops firing and its history
stays. A job paused at run time stays paused. Only the columns that change are
written, so a run ending meanwhile (its failure count) is not overwritten.

At a reload (``RunningScope``) two things wait for a restart instead, and are named:
a schedule for an agent the process does not run yet, and a schedule whose name a
job added at run time (`roost jobs add`, ``schedule_job``) already has — that job is
left as it is.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from roost.config.schedules import ScheduleConfig
from roost.scheduler.model import (
    JOB_ACTIVE,
    JOB_DISABLED,
    JOB_DONE,
    JOB_PAUSED,
    OWNER_CONFIG,
    Job,
)
from roost.scheduler.store import JobStore
from roost.timing.schedules import ScheduleKind

log = logging.getLogger(__name__)

_DEFINITION = (
    "agent",
    "prompt",
    "timezone",
    "session",
    "deliver",
    "catch_up",
    "overlap",
    "model",
    "timeout_s",
)
"""Job fields that are config keys of the same name (timing and ``enabled`` aside)."""


@dataclass(frozen=True)
class RunningScope:
    """What a running process can take in at a reload: schedules for these agents."""

    agents: Collection[str]


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    changed_keys: list[str] = field(default_factory=list)
    """Config keys that changed a job (``schedules.tick.prompt``), for the reload's outcome."""
    held: list[str] = field(default_factory=list)
    """Schedules left for a restart, with why: ``schedules.x (agent y is not running yet)``."""
    due: dict[int, datetime | None] = field(default_factory=dict)
    """Job id → its fire time now (None: it no longer fires), for every job written."""
    stopped: list[int] = field(default_factory=list)
    """Ids of jobs that stopped firing (disabled)."""

    @property
    def applied(self) -> list[str]:
        """What a reload took in, as config keys."""
        return (
            [f"schedules.{name} (added)" for name in self.added]
            + self.changed_keys
            + [f"schedules.{name} (removed)" for name in self.disabled]
        )


def job_from_config(name: str, config: ScheduleConfig, now: datetime) -> Job:
    """The job a ``schedules:`` entry describes, as if created at ``now``."""
    kind, expr = _timing(config)
    job = Job(
        id=0,
        name=name,
        owner=OWNER_CONFIG,
        agent=config.agent,
        prompt=config.prompt,
        kind=kind,
        expr=expr,
        timezone=config.timezone or "",
        session=config.session,
        deliver=list(config.deliver),
        catch_up=config.catch_up,
        overlap=config.overlap,
        model=config.model,
        timeout_s=config.timeout_s,
        state=JOB_ACTIVE,
        anchor=now,
        next_due=None,
    )
    _restart(job, now, enabled=config.enabled)
    return job


async def sync_config(
    store: JobStore,
    schedules: Mapping[str, ScheduleConfig],
    now: datetime,
    running: RunningScope | None = None,
) -> SyncReport:
    """Bring the config jobs in line with ``schedules``; ``running`` at a reload."""
    report = SyncReport()
    existing = await store.for_config(list(schedules), OWNER_CONFIG)
    for name, config in schedules.items():
        current = existing.get(name)
        why_not = _held_back(name, config, current, running)
        if why_not is not None:
            report.held.append(f"schedules.{name} ({why_not})")
            continue
        desired = job_from_config(name, config, now)
        if current is None:
            await _add(store, desired, report)
            continue
        merged = _merge(current, desired, config.enabled, now)
        if await store.write_changes(current, merged):
            report.updated.append(name)
            report.changed_keys += _changed_keys(current, merged)
            report.due[merged.id] = _fire_time(merged)
    for name, job in existing.items():
        if job.owner == OWNER_CONFIG and name not in schedules and job.state != JOB_DISABLED:
            await store.update(job.id, state=JOB_DISABLED, next_due=None)
            report.disabled.append(name)
            report.due[job.id] = None
            report.stopped.append(job.id)
    if report.added or report.updated or report.disabled:
        log.info(
            "scheduled jobs from the config: %d added, %d updated, %d disabled",
            len(report.added),
            len(report.updated),
            len(report.disabled),
        )
    return report


async def _add(store: JobStore, job: Job, report: SyncReport) -> None:
    if job.state == JOB_DONE:
        log.warning("job %s: %s is in the past; it will not fire", job.name, job.describe())
    await store.insert(job)
    report.added.append(job.name)
    report.due[job.id] = _fire_time(job)


def _held_back(
    name: str, config: ScheduleConfig, current: Job | None, running: RunningScope | None
) -> str | None:
    """Why a reload leaves this schedule for a restart, or None to apply it."""
    if running is None:
        return None  # a start takes in everything
    if current is not None and current.owner != OWNER_CONFIG:
        return (
            f"a job added at run time (owner {current.owner}) has this name and is left "
            "as it is; rename the schedule, or a restart makes the config's job replace it"
        )
    if config.agent not in running.agents:
        return f"agent {config.agent} is not running yet"
    return None


def _fire_time(job: Job) -> datetime | None:
    return job.next_due if job.state == JOB_ACTIVE else None


def _changed_keys(old: Job, new: Job) -> list[str]:
    prefix = f"schedules.{new.name}"
    keys = [f"{prefix}.{name}" for name in _DEFINITION if getattr(old, name) != getattr(new, name)]
    if (old.kind, old.expr) != (new.kind, new.expr):
        keys.append(f"{prefix}.{new.kind}")
    if (old.state == JOB_DISABLED) != (new.state == JOB_DISABLED):
        keys.append(f"{prefix}.enabled")
    return keys


def _timing(config: ScheduleConfig) -> tuple[ScheduleKind, str]:
    if config.cron is not None:
        return "cron", config.cron
    if config.every is not None:
        return "every", config.every
    assert config.at is not None  # ScheduleConfig checks exactly one is set
    return "at", config.at


def _merge(current: Job, desired: Job, enabled: bool, now: datetime) -> Job:
    if current.owner != OWNER_CONFIG:
        log.warning("job %s (owner %s) is now defined by the config", current.name, current.owner)
    same_timing = (current.kind, current.expr, current.timezone) == (
        desired.kind,
        desired.expr,
        desired.timezone,
    )
    merged = dataclasses.replace(
        current,
        owner=OWNER_CONFIG,
        agent=desired.agent,
        prompt=desired.prompt,
        kind=desired.kind,
        expr=desired.expr,
        timezone=desired.timezone,
        session=desired.session,
        deliver=desired.deliver,
        catch_up=desired.catch_up,
        overlap=desired.overlap,
        model=desired.model,
        timeout_s=desired.timeout_s,
    )
    if not same_timing:
        merged.anchor = now
        _restart(merged, now, enabled)
    elif not enabled:
        merged.state, merged.next_due = JOB_DISABLED, None
    elif current.state == JOB_DISABLED:
        _restart(merged, now, enabled)
    return merged


def _restart(job: Job, now: datetime, enabled: bool) -> None:
    """Fire from ``now`` on (nothing before it is caught up)."""
    if not enabled:
        job.state, job.next_due = JOB_DISABLED, None
        return
    if job.state == JOB_PAUSED:
        job.next_due = None
        return
    job.next_due = job.schedule().next_after(now)
    job.state = JOB_ACTIVE if job.next_due is not None else JOB_DONE

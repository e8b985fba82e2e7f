"""The config file's ``schedules:`` into the ``jobs`` table, at every start.

Config jobs are matched by name and owned by ``config``. A job whose timing is
unchanged keeps its place in time (so missed runs are caught up); a changed
timing starts afresh from now. A job gone from the file, or ``enabled: false``,
is ``disabled``: it stops firing and its history stays. A job paused at run time
stays paused.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
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


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)


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
    store: JobStore, schedules: Mapping[str, ScheduleConfig], now: datetime
) -> SyncReport:
    report = SyncReport()
    existing = await store.for_config(list(schedules), OWNER_CONFIG)
    for name, config in schedules.items():
        desired = job_from_config(name, config, now)
        current = existing.get(name)
        if current is None:
            if desired.state == JOB_DONE:
                log.warning("job %s: %s is in the past; it will not fire", name, desired.describe())
            await store.insert(desired)
            report.added.append(name)
            continue
        merged = _merge(current, desired, config.enabled, now)
        if merged != current:
            await store.replace(merged)
            report.updated.append(name)
    for name, job in existing.items():
        if job.owner == OWNER_CONFIG and name not in schedules and job.state != JOB_DISABLED:
            await store.update(job.id, state=JOB_DISABLED, next_due=None)
            report.disabled.append(name)
    if report.added or report.updated or report.disabled:
        log.info(
            "scheduled jobs from the config: %d added, %d updated, %d disabled",
            len(report.added),
            len(report.updated),
            len(report.disabled),
        )
    return report


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

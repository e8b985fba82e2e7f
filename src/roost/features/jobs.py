"""The job operations, as other features see them: a protocol, so none imports the scheduler.

The scheduler feature offers them (``Feature.jobs_api``) and the core hands them on
(``CorePorts.jobs()``): Telegram's ``/jobs`` lists, runs, pauses and resumes jobs
through ``JobOperations``. ``JobError`` is the base of every job error (the scheduler's
``roost.scheduler.errors`` derive from it), so a caller catches it without importing
the scheduler.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol


class JobError(Exception):
    """A job operation that cannot be done; ``code`` is stable, the message is for people."""

    code = "job_error"


class JobView(Protocol):
    """What a caller reads of a job."""

    @property
    def name(self) -> str: ...

    @property
    def agent(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def next_due(self) -> datetime | None: ...

    @property
    def last_status(self) -> str | None: ...

    def describe(self) -> str:
        """Its schedule in words."""
        ...


class RunView(Protocol):
    """What a caller reads of a run it started."""

    @property
    def id(self) -> int:
        """The run's id; 0 for a run queued behind one still going."""
        ...


class JobOperations(Protocol):
    """Listing, running, pausing and resuming jobs (raises ``JobError``)."""

    async def list_jobs(self, *, as_owner: str | None = None) -> Sequence[JobView]: ...

    async def run_now(self, name: str, *, as_owner: str | None = None) -> RunView: ...

    async def pause(self, name: str, *, as_owner: str | None = None) -> JobView: ...

    async def resume(self, name: str, *, as_owner: str | None = None) -> JobView: ...

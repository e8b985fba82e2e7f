"""What can go wrong with a job, each with a message that says how to fix it.

A schedule's own errors (``ScheduleError``) live with the timing, in ``roost.timing.errors``.
"""

from __future__ import annotations

# The base lives with the features' view of the job operations, so other features
# (Telegram's /jobs) catch it without importing the scheduler.
from roost.features.jobs import JobError as JobError


class UnknownJob(JobError, LookupError):
    code = "not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"no job named '{name}'; `roost jobs list` shows the jobs")
        self.name = name


class JobExists(JobError):
    code = "job_exists"


class JobForbidden(JobError, PermissionError):
    code = "forbidden"


class JobBusy(JobError):
    code = "busy"


class InvalidJob(JobError, ValueError):
    """A bad name, schedule, address, model or agent; the message names the field."""

    code = "bad_request"


class UnknownAgentForJob(InvalidJob):
    code = "unknown_agent"

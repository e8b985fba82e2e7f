"""What can go wrong with a schedule a person wrote, with a message that says how to fix it."""

from __future__ import annotations


class ScheduleError(ValueError):
    """A schedule a person wrote that cannot work; the message says how to fix it."""

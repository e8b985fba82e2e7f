"""Test seams shipped with Roost, as httpx ships ``MockTransport``.

``ManualClock`` is a clock that moves only when told (the scheduler and the outbox's
dispatcher take a clock); ``RecordingChannel`` is a delivery channel that records what
it was asked to deliver and lets a test wait for "n deliveries" or for "idle";
``settled`` waits until an App has no turn and no delivery left, the point to drain to
before asserting that nothing else happened.
Importing this package loads nothing; each name loads its own module on first use
(none loads the database or a provider).

Example::

    from datetime import UTC, datetime, timedelta
    from roost.app import App
    from roost.bus.dispatcher import DeliveryError
    from roost.testing import ManualClock, RecordingChannel, settled

    clock = ManualClock(datetime.now(UTC))
    app = App(settings, clock=clock)
    channel = RecordingChannel()
    app.dispatcher.register(channel)
    await app.start()
    channel.fail_next(DeliveryError("503", retry_after=2.0))
    await app.router.submit(envelope)      # its reply's first attempt fails
    await clock.wait_for_sleepers(2)       # the outbox's rescan, and the retry's wait
    clock.advance(timedelta(seconds=2))    # the retry is due
    [reply] = await channel.wait_for(1)
    await settled(app)                     # no turn and no delivery left
    assert channel.attempts == 2
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roost.testing.channel import RecordingChannel
    from roost.testing.settle import settled
    from roost.timing.clock import ManualClock

# Public name -> the module that defines it (imported on first use, as roost.timing does).
_HOMES = {
    "ManualClock": "roost.timing.clock",
    "RecordingChannel": "roost.testing.channel",
    "settled": "roost.testing.settle",
}

__all__ = ["ManualClock", "RecordingChannel", "settled"]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'roost.testing' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value

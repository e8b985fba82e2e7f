"""The sd_notify protocol, for `roost run` under systemd (``Type=notify``).

systemd passes ``NOTIFY_SOCKET`` (a unix datagram socket path, or an abstract name
written with a leading ``@``) and, with ``WatchdogSec=``, ``WATCHDOG_USEC``. Roost
sends ``READY=1`` once it serves, ``STATUS=...`` lines, ``WATCHDOG=1`` at half the
watchdog interval (from the event loop: a stuck loop stops the pings and systemd
restarts the process) and ``STOPPING=1`` when it begins to stop. Without
``NOTIFY_SOCKET`` every call does nothing. A few lines of socket code: no dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_s = _watchdog_interval(env)
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *fields: str) -> None:
        """Send ``fields`` (``"READY=1"``, ``"STATUS=..."``) as one datagram; a failure is
        logged once and never stops Roost."""
        if self.address is None:
            return
        message = "\n".join(fields).encode("utf-8", errors="replace")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message, self.address)
        except OSError as exc:
            if not self._failed:
                self._failed = True
                log.warning("sd_notify to %s failed: %s", os.environ.get("NOTIFY_SOCKET"), exc)

    async def watchdog(self) -> None:
        """Ping systemd's watchdog at half its interval until cancelled."""
        if self.address is None or self.watchdog_s is None:
            return
        interval = self.watchdog_s / 2
        while True:
            self.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    def start_watchdog(self) -> asyncio.Task[None] | None:
        if self.address is None or self.watchdog_s is None:
            return None
        return asyncio.get_running_loop().create_task(self.watchdog(), name="sd-watchdog")


async def stop_task(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _address(value: str) -> str | None:
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]  # an abstract socket name
    if value.startswith("/"):
        return value
    return None  # systemd passes only these two forms


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Seconds of ``WATCHDOG_USEC``, if it is set for this process (``WATCHDOG_PID``)."""
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 1_000_000 if usec > 0 else None

"""`roost run` itself: load, lock, serve until SIGINT/SIGTERM, stop in order.

Free of typer: `roost.cli.main` calls ``serve`` directly for a plain ``roost run``
(the long-lived process does not need the CLI framework: ~1.5 MB and ~15 ms less at
start-up), and `roost.cli.run_cmd` is the typer command for every other spelling.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from roost.cli.common import EXIT_CONFIG, fail, load_config, start_app, start_logging
from roost.config.settings import NO_PROVIDER_REPLY

if TYPE_CHECKING:
    from roost.config.settings import Settings

log = logging.getLogger("roost.run")

DEFAULT_GRACE_S = 10.0
"""Seconds running turns get to finish on shutdown (`roost run --grace`)."""


def serve(
    config_path: Path | None, grace: float = DEFAULT_GRACE_S, *, port: int | None = None
) -> None:
    """Run Roost until Ctrl+C or SIGTERM; exits (``fail``) on a configuration problem.

    ``port`` (`roost run --port`) overrides ``gateway.port``.
    """
    from roost.process_lock import AlreadyRunning, ProcessLock

    settings = load_config(config_path)
    if port is not None:
        settings = _with_port(settings, port)
    start_logging(settings, settings.log_level)
    lock = ProcessLock(settings.home / "roost.pid")
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        fail(str(exc))
    try:
        _banner(settings)
        asyncio.run(_serve(settings, grace))
    finally:
        lock.release()


def _with_port(settings: Settings, port: int) -> Settings:
    if not settings.gateway.enabled:
        where = f" in {settings.config_path}" if settings.config_path else ""
        fail(f"--port {port}: the gateway is off (gateway.enabled: false{where})", EXIT_CONFIG)
    gateway = settings.gateway.model_copy(update={"port": port})
    return dataclasses.replace(settings, gateway=gateway)


async def _serve(settings: Settings, grace: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # Its default action ends the process. A reload asked for during start-up (the gateway
    # may already answer, and gateway.json be written) runs once the start is complete.
    reload_asked = asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, reload_asked.set)
    from roost.builtin_features import served_features
    from roost.cli.config_reload import ReloadOnSignal
    from roost.cli.systemd_notify import SystemdNotifier, stop_task

    systemd = SystemdNotifier()
    app = await start_app(settings, recover=True, features=served_features(settings))
    _enable_gc()
    log.info("roost is running with %d agent(s); press Ctrl+C to stop", len(app.agents))
    systemd.notify("READY=1", f"STATUS=serving {len(app.agents)} agent(s)")
    watchdog = systemd.start_watchdog()
    reload = ReloadOnSignal(app, settings.config_path)
    loop.add_signal_handler(signal.SIGHUP, reload)
    if reload_asked.is_set():
        log.info("SIGHUP came while starting: reloading the configuration now")
        reload()
    await stop.wait()
    loop.remove_signal_handler(signal.SIGHUP)
    await reload.close()
    log.info("stopping: giving running turns up to %.0fs to finish", grace)
    systemd.notify("STOPPING=1", "STATUS=stopping: finishing running turns")
    try:
        await app.stop(grace)
    finally:
        await stop_task(watchdog)  # pinging through the stop: it may take `grace`
    log.info("stopped")


def _enable_gc() -> None:
    """Switch the cycle collector back on (main() turns it off), once start-up is done.

    A long-lived process needs it; during start-up it would only walk, again and again,
    the objects the imports are creating (tens of milliseconds). What exists once the
    process has started (modules, classes, config) lives as long as the process:
    ``gc.freeze`` moves it out of the collector's way, so later full collections walk
    only what the agents create. (Start-up leaves ~150 objects of cyclic garbage; they
    are frozen too, rather than paying a full collection, ~35 ms, before serving.)
    """
    gc.freeze()
    gc.enable()


def _banner(settings: Settings) -> None:
    """What `roost run` serves, on stderr: plain writes (rich costs ~40 ms at start-up)."""
    color = _stderr_has_color()
    bold = _ansi("1", color)
    yellow = _ansi("33", color)
    source = str(settings.config_path) if settings.config_path else "none (built-in defaults)"
    lines = [f"{bold('Roost')} home: {settings.home}", f"config: {source}"]
    if settings.config_path is None:
        lines.append("  create one with: roost init")
    if not settings.gateway.enabled:
        lines.append("gateway: off (gateway.enabled: false)")
    for agent in settings.agents.values():
        if agent.provider is not None:
            lines.append(f"agent {agent.name}: {agent.model_ref}")
        else:
            lines.append(f"agent {agent.name}: {yellow(NO_PROVIDER_REPLY)}")
    sys.stderr.write("".join(f"{line}\n" for line in lines))
    sys.stderr.flush()


def _stderr_has_color() -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stderr.isatty()


def _ansi(code: str, enabled: bool) -> Callable[[str], str]:
    if not enabled:
        return lambda text: text
    return lambda text: f"\x1b[{code}m{text}\x1b[0m"

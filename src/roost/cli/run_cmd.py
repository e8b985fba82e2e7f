"""`roost run`: the long-running process."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from typing import TYPE_CHECKING, Annotated

import typer

from roost.cli.common import err_console, fail, load, start_app, start_logging
from roost.config.settings import NO_PROVIDER_REPLY

if TYPE_CHECKING:
    from roost.app import App, Service
    from roost.config.settings import Settings

log = logging.getLogger("roost.run")


def run(
    ctx: typer.Context,
    grace: Annotated[
        float,
        typer.Option(
            help="Seconds running turns get to finish on shutdown before they are "
            "recorded as interrupted."
        ),
    ] = 10.0,
) -> None:
    """Run Roost: the store and every configured agent, until Ctrl+C or SIGTERM."""
    gc.enable()  # a long-lived process needs the cycle collector (main() turns it off)
    from roost.process_lock import AlreadyRunning, ProcessLock

    settings = load(ctx)
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


async def _serve(settings: Settings, grace: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    app = await start_app(settings, recover=True, services=_services)
    log.info("roost is running with %d agent(s); press Ctrl+C to stop", len(app.agents))
    await stop.wait()
    log.info("stopping: giving running turns up to %.0fs to finish", grace)
    await app.stop(grace)
    log.info("stopped")


def _services(app: App) -> list[Service]:
    """The parts `roost run` serves besides the agents, in start order (each imported only
    when configured)."""
    from roost.scheduler.service import SchedulerService

    settings = app.settings
    services: list[Service] = []
    scheduler = SchedulerService(app)
    if settings.gateway.enabled:
        from roost.gateway.service import GatewayService
        from roost.scheduler.gateway_methods import register_job_methods

        gateway = GatewayService(app)
        register_job_methods(gateway.methods, scheduler)
        services.append(gateway)
    if settings.telegram is not None:
        from roost.channels.telegram.service import TelegramService

        services.append(TelegramService(app))
    services.append(scheduler)
    return services


def _banner(settings: Settings) -> None:
    console = err_console()
    source = str(settings.config_path) if settings.config_path else "none (built-in defaults)"
    console.print(f"[bold]Roost[/] home: {settings.home}", highlight=False)
    console.print(f"config: {source}", highlight=False)
    if settings.config_path is None:
        console.print("  create one with: roost init", highlight=False)
    if not settings.gateway.enabled:
        console.print("gateway: off (gateway.enabled: false)", highlight=False)
    for agent in settings.agents.values():
        if agent.provider is not None:
            console.print(f"agent {agent.name}: {agent.model_ref}", highlight=False)
            continue
        console.print(f"agent {agent.name}: [yellow]{NO_PROVIDER_REPLY}[/]", highlight=False)

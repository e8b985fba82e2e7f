"""Where `roost jobs` sends its requests: the running gateway, or the store directly
(the client side of the command, next to `roost.cli.jobs_cmd`).

Both speak the WebSocket methods (``jobs.list`` …) and return their result objects,
so the command prints the same thing either way. Without a gateway, the config's
jobs are synced into the store first (as `roost run` does at start), and ``jobs.run``
runs the turn in this process; what it delivers waits in the outbox for `roost run`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from roost.scheduler.errors import JobError

if TYPE_CHECKING:
    from pydantic import ValidationError

    from roost.client.gateway_client import GatewayClient
    from roost.config.settings import Settings
    from roost.scheduler.api import JobsApi
    from roost.store.database import Database

CLI_OWNER = "cli"
RUN_WAIT_S = 3600.0


class JobsCliError(Exception):
    """A request failed; the message is for the user."""


class JobsBackend(Protocol):
    via: str

    async def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]: ...

    async def run_and_wait(self, name: str, wait: bool) -> dict[str, Any]:
        """``jobs.run``, then (if ``wait``) the run as recorded once it ended."""
        ...

    async def close(self) -> None: ...


async def open_backend(settings: Settings) -> JobsBackend:
    from roost.client.gateway_client import GatewayError, client_id, locate

    location = locate(settings)
    if location is None:
        return await LocalBackend.open(settings)
    from roost.client.gateway_client import GatewayClient

    try:
        client = await GatewayClient.connect(
            location.url,
            location.token,
            client_id("roost-jobs"),
            token_source=location.token_source,
        )
    except GatewayError as exc:
        raise JobsCliError(str(exc)) from None
    return GatewayBackend(client)


class GatewayBackend:
    via = "gateway"

    def __init__(self, client: GatewayClient) -> None:
        self._client = client

    async def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        from roost.client.gateway_client import GatewayCallError, GatewayError

        try:
            return await self._client.call(method, params)
        except GatewayCallError as exc:
            raise JobsCliError(exc.message or exc.code) from None
        except GatewayError as exc:
            raise JobsCliError(str(exc)) from None

    async def run_and_wait(self, name: str, wait: bool) -> dict[str, Any]:
        if wait:
            await self.call("subscribe", {"topics": ["jobs"]})
        started = await self.call("jobs.run", {"name": name})
        run_id = started["run"]["id"]
        if not wait or not run_id:
            return started
        while True:
            event = await self._client.next_event(RUN_WAIT_S)
            if event is None:
                raise JobsCliError("the gateway closed the connection before the run ended")
            if event.name == "job.finished" and event.data.get("run_id") == run_id:
                break
        runs = await self.call("jobs.runs", {"name": name, "limit": 50})
        found = [run for run in runs["runs"] if run["id"] == run_id]
        return {"run": found[0] if found else started["run"]}

    async def close(self) -> None:
        await self._client.close()


class LocalBackend:
    via = "store"

    def __init__(self, settings: Settings, api: JobsApi, db: Database) -> None:
        self._settings = settings
        self._api = api
        self._db = db

    @classmethod
    async def open(cls, settings: Settings) -> LocalBackend:
        from roost.bus.store import BusStore
        from roost.scheduler.api import JobsApi
        from roost.scheduler.config_sync import sync_config
        from roost.scheduler.runs import RunStore
        from roost.scheduler.store import JobStore
        from roost.store.database import Database, StoreError
        from roost.timing.clock import SystemClock

        db = Database(settings.store_url)
        try:
            await db.open()
        except StoreError as exc:
            await db.close()
            raise JobsCliError(str(exc)) from None
        clock = SystemClock()
        jobs = JobStore(db)
        await sync_config(jobs, settings.schedules, clock.now())
        api = JobsApi(jobs, RunStore(db), BusStore(db), settings, clock)
        return cls(settings, api, db)

    async def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        from pydantic import ValidationError

        from roost.scheduler.gateway_methods import call_job_method

        try:
            return await call_job_method(self._api, method, params, CLI_OWNER)
        except (JobError, LookupError) as exc:
            raise JobsCliError(str(exc)) from None
        except ValidationError as exc:
            raise JobsCliError(_validation(exc)) from None

    async def run_and_wait(self, name: str, wait: bool) -> dict[str, Any]:
        """Run the turn here: App without recovery, the scheduler not started."""
        from roost.app import App
        from roost.scheduler.service import SchedulerService

        await self.call("jobs.runs", {"name": name, "limit": 1})  # unknown job: fail fast
        # Not started (no recovery): the outbox is not sent from here, so what the run
        # queues waits there for `roost run`.
        app = App(self._settings, [SchedulerService])
        scheduler = app.feature(SchedulerService)
        await app.start()
        try:
            started = await scheduler.run_now(name)
            if not started.id:
                return {"run": started.to_dict()}
            return {"run": (await scheduler.wait_for_run(started.id, RUN_WAIT_S)).to_dict()}
        except JobError as exc:
            raise JobsCliError(str(exc)) from None
        finally:
            await app.stop()

    async def close(self) -> None:
        await self._db.close()


def _validation(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
    )

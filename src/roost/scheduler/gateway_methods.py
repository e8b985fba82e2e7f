"""The WebSocket methods ``jobs.*``: the job operations for gateway clients.

A gateway client holds the gateway token, so it is an operator: it may touch
every job. Jobs it adds are owned by ``ws:<client id>``. Errors are ``MethodError``
with the job error's code: ``not_found``, ``unknown_agent``, ``bad_request``
(bad name, schedule, address or model), ``job_exists``, ``forbidden`` (a config
job cannot be removed), ``busy`` (run now while a run goes on, overlap: skip).
Progress comes as ``job.started`` / ``job.finished`` events on the ``jobs`` topic.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from roost.features.methods import CallContext, Method, MethodError, Params
from roost.scheduler.api import JobsApi
from roost.scheduler.errors import JobError
from roost.scheduler.model import DEFAULT_TIMEOUT_S, ISOLATED

JobName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class JobsListParams(Params):
    owner: str | None = None
    """Only the jobs of this owner (``config``, ``agent:<name>``, ``ws:<client>``…)."""


class JobNameParams(Params):
    name: JobName


class JobRunsParams(Params):
    name: JobName
    limit: int = Field(default=20, ge=1, le=1000)


class JobAddParams(Params):
    name: JobName
    agent: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    cron: str | None = None
    every: str | None = None
    at: str | None = None
    """An ISO time (naive: in ``timezone``) or ``in 2h``."""
    timezone: str | None = None
    session: str = ISOLATED
    deliver: list[str] = Field(default_factory=list)
    catch_up: Literal["skip", "once", "all"] = "once"
    overlap: Literal["skip", "queue"] = "skip"
    model: str | None = None
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0)
    owner: str | None = Field(default=None, max_length=200)
    """Who the job belongs to; default ``ws:<client id>``."""


Handler = Callable[[JobsApi, Any, str], Awaitable[dict[str, Any]]]
"""``(scheduler, params, caller)`` → result; ``caller`` owns the jobs it adds."""


async def _list(api: JobsApi, params: JobsListParams, _: str) -> dict[str, Any]:
    return {"jobs": [job.to_dict() for job in await api.list_jobs(as_owner=params.owner)]}


async def _add(api: JobsApi, params: JobAddParams, caller: str) -> dict[str, Any]:
    fields = params.model_dump(exclude={"name", "owner"})
    job = await api.add(params.name, owner=params.owner or caller, **fields)
    return {"job": job.to_dict()}


async def _remove(api: JobsApi, params: JobNameParams, _: str) -> dict[str, Any]:
    return {"job": (await api.remove(params.name)).to_dict(), "removed": True}


async def _pause(api: JobsApi, params: JobNameParams, _: str) -> dict[str, Any]:
    return {"job": (await api.pause(params.name)).to_dict()}


async def _resume(api: JobsApi, params: JobNameParams, _: str) -> dict[str, Any]:
    return {"job": (await api.resume(params.name)).to_dict()}


async def _run(api: JobsApi, params: JobNameParams, _: str) -> dict[str, Any]:
    return {"run": (await api.run_now(params.name)).to_dict()}


async def _runs(api: JobsApi, params: JobRunsParams, _: str) -> dict[str, Any]:
    return {"runs": [run.to_dict() for run in await api.runs(params.name, params.limit)]}


JOB_METHODS: dict[str, tuple[type[Params], Handler]] = {
    "jobs.list": (JobsListParams, _list),
    "jobs.add": (JobAddParams, _add),
    "jobs.remove": (JobNameParams, _remove),
    "jobs.pause": (JobNameParams, _pause),
    "jobs.resume": (JobNameParams, _resume),
    "jobs.run": (JobNameParams, _run),
    "jobs.runs": (JobRunsParams, _runs),
}


async def call_job_method(
    api: JobsApi, method: str, params: dict[str, Any], caller: str
) -> dict[str, Any]:
    """Run a ``jobs.*`` method in process (the CLI without a gateway).

    Raises ``pydantic.ValidationError`` for bad parameters and ``JobError``.
    """
    model, handler = JOB_METHODS[method]
    return await handler(api, model.model_validate(params), caller)


def job_methods(scheduler: JobsApi) -> list[Method]:
    """``jobs.list|add|remove|pause|resume|run|runs`` for the gateway's registry."""
    return [
        Method(name, model, _bound(scheduler, handler))
        for name, (model, handler) in JOB_METHODS.items()
    ]


def _bound(
    scheduler: JobsApi, handler: Handler
) -> Callable[[CallContext, Any], Awaitable[dict[str, Any]]]:
    async def call(context: CallContext, params: Any) -> dict[str, Any]:
        caller = f"ws:{context.peer.client_id}" if context.peer else "gateway"
        try:
            return await handler(scheduler, params, caller)
        except JobError as exc:
            raise MethodError(exc.code, str(exc)) from None

    return call

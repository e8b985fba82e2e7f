"""`roost jobs`: list, add, remove, pause, resume and run scheduled jobs; see their runs.

Goes through the running gateway (`roost run`) when there is one, else works on the
store directly: a job added then is picked up when `roost run` starts (or, if one
runs without a gateway, within half a minute).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from roost.cli.common import fail, load, out_console

if TYPE_CHECKING:
    from roost.cli.jobs_backend import JobsBackend

jobs_app = typer.Typer(
    name="jobs",
    help="Scheduled jobs: list, add, remove, pause, resume, run now, and their runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
NameArgument = Annotated[str, typer.Argument(help="The job's name.", show_default=False)]


def _request(ctx: typer.Context, work: Callable[[JobsBackend], Awaitable[dict[str, Any]]]) -> Any:
    from roost.cli.jobs_backend import JobsCliError, open_backend

    settings = load(ctx)

    async def go() -> dict[str, Any]:
        backend = await open_backend(settings)
        try:
            return await work(backend)
        finally:
            await backend.close()

    try:
        return asyncio.run(go())
    except JobsCliError as exc:
        fail(str(exc))


def _local(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")


@jobs_app.command("list")
def list_jobs(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every job: its schedule, next run (local time), last run's status and state."""
    from rich.table import Table

    result = _request(ctx, lambda backend: backend.call("jobs.list", {}))
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    if not result["jobs"]:
        print("no jobs; add one with `roost jobs add` or under schedules: in the config")
        return
    table = Table("name", "schedule", "agent", "next run", "last", "state", "owner")
    for job in result["jobs"]:
        table.add_row(
            job["name"],
            job["schedule"],
            job["agent"],
            _local(job["next_due"]),
            job["last_status"] or "-",
            job["state"],
            job["owner"],
        )
    out_console().print(table)


@jobs_app.command("add")
def add(
    ctx: typer.Context,
    name: NameArgument,
    agent: Annotated[str, typer.Option("--agent", "-a", help="The agent that runs it.")],
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="What the agent is asked.")],
    cron: Annotated[str | None, typer.Option(help="Cron expression, e.g. '0 8 * * 1-5'.")] = None,
    every: Annotated[str | None, typer.Option(help="Interval, e.g. 15m or 1h30m.")] = None,
    at: Annotated[str | None, typer.Option(help="Once: 2026-12-01T09:00 or 'in 2h'.")] = None,
    deliver: Annotated[
        list[str] | None,
        typer.Option("--deliver", "-d", help="Where answers go (repeatable): telegram:<id>, …"),
    ] = None,
    session: Annotated[
        str, typer.Option(help="'isolated' (a fresh session per run) or a fixed session key.")
    ] = "isolated",
    timezone: Annotated[
        str | None, typer.Option(help="IANA zone for cron/at; default: this machine's.")
    ] = None,
    catch_up: Annotated[
        str, typer.Option("--catch-up", help="After downtime: skip, once or all.")
    ] = "once",
    overlap: Annotated[str, typer.Option(help="While a run goes on: skip or queue.")] = "skip",
    model: Annotated[
        str | None, typer.Option(help="provider/model for this job's runs only.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds a run may take.")] = 600.0,
    as_json: JsonOption = False,
) -> None:
    """Add a job, e.g.: roost jobs add standup --cron '0 9 * * 1-5' -a assistant -p 'Plan my day'"""
    params: dict[str, Any] = {
        "name": name,
        "agent": agent,
        "prompt": prompt,
        "cron": cron,
        "every": every,
        "at": at,
        "deliver": deliver or [],
        "session": session,
        "timezone": timezone,
        "catch_up": catch_up,
        "overlap": overlap,
        "model": model,
        "timeout_s": timeout,
        "owner": "cli",
    }
    result = _request(ctx, lambda backend: backend.call("jobs.add", params))
    job = result["job"]
    if not deliver:
        print(
            "roost: no deliver target: the answer is only kept in the run history; "
            f"see it with roost jobs runs {name}",
            file=sys.stderr,
        )
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    print(f"added job {job['name']}: {job['schedule']}, next run {_local(job['next_due'])}")


def _change(ctx: typer.Context, method: str, name: str, as_json: bool, done: str) -> None:
    result = _request(ctx, lambda backend: backend.call(method, {"name": name}))
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    job = result["job"]
    upcoming = f", next run {_local(job['next_due'])}" if job["next_due"] else ""
    print(f"{done} job {job['name']} ({job['state']}{upcoming})")


@jobs_app.command("remove")
def remove(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Remove a job (its run history is kept). Config jobs are removed from the config."""
    _change(ctx, "jobs.remove", name, as_json, "removed")


@jobs_app.command("pause")
def pause(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Stop a job from firing until it is resumed."""
    _change(ctx, "jobs.pause", name, as_json, "paused")


@jobs_app.command("resume")
def resume(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Let a paused job fire again, from now on (nothing missed is caught up)."""
    _change(ctx, "jobs.resume", name, as_json, "resumed")


@jobs_app.command("run")
def run(
    ctx: typer.Context,
    name: NameArgument,
    wait: Annotated[bool, typer.Option(help="Wait for the run to end.")] = True,
    as_json: JsonOption = False,
) -> None:
    """Run a job now, whatever its schedule (in this process if no gateway is running)."""
    result = _request(ctx, lambda backend: backend.run_and_wait(name, wait))
    run = result["run"]
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    elif run["status"] == "queued":
        print(f"job {name} is running; this run starts when it ends (overlap: queue)")
    else:
        print(f"run {run['id']} of job {name}: {run['status']}{_run_details(run)}")
        if run.get("answer"):
            print(run["answer"])
    if run["status"] in ("failed", "timeout"):
        raise typer.Exit(1)


def _run_details(run: dict[str, Any]) -> str:
    parts = []
    if run["status"] != "running":
        tokens = run["input_tokens"] + run["output_tokens"]
        parts.append(f"{tokens} tokens, ${run['cost_usd']:.6f}")
    if run["error"]:
        parts.append(run["error"])
    parts += [_delivery(delivery) for delivery in run["deliveries"]]
    return f" ({'; '.join(parts)})" if parts else ""


def _delivery(delivery: dict[str, Any]) -> str:
    text = f"{delivery['target']} {delivery['status']}"
    if delivery["status"] != "delivered" and delivery["last_error"]:
        text += f": {delivery['last_error']}"
    return text


@jobs_app.command("runs")
def runs(
    ctx: typer.Context,
    name: NameArgument,
    limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 20,
    full: Annotated[
        bool, typer.Option("--full", help="Print each run's whole answer below the table.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """A job's run history: status, cost, deliveries per target, and the answer."""
    from rich.table import Table

    params = {"name": name, "limit": limit}
    result = _request(ctx, lambda backend: backend.call("jobs.runs", params))
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    if not result["runs"]:
        print(f"job {name} has not run yet")
        return
    table = Table("run", "scheduled", "status", "took", "tokens", "cost", "deliveries / error")
    for item in result["runs"]:
        notes = [_delivery(delivery) for delivery in item["deliveries"]]
        if item["error"]:
            notes.append(item["error"])
        table.add_row(
            str(item["id"]),
            _local(item["scheduled_for"]),
            item["status"],
            _took(item["started_at"], item["finished_at"]),
            f"{item['input_tokens']}/{item['output_tokens']}",
            f"${item['cost_usd']:.6f}",
            "\n".join(notes) or "-",
        )
    out_console().print(table)
    _print_answers(name, result["runs"], full)


def _print_answers(name: str, runs: list[dict[str, Any]], full: bool) -> None:
    """Below the table (a column would not fit 80 columns): each run's answer, on one
    line cut at ``ANSWER_PREVIEW`` characters, or whole with ``--full``."""
    answered = [run for run in runs if run.get("answer")]
    for run in answered:
        if full:
            print(f"\n── run {run['id']} ({_local(run['scheduled_for'])}):\n{run['answer']}")
        else:
            print(f"run {run['id']}: {_preview(run['answer'])}")
    if not full and any(len(run["answer"]) > ANSWER_PREVIEW for run in answered):
        print(f"whole answers: roost jobs runs {name} --full")


ANSWER_PREVIEW = 60
"""Characters of an answer shown in the `roost jobs runs` table (``--full``: all of it)."""


def _preview(answer: str) -> str:
    """The answer on one line, cut at ``ANSWER_PREVIEW`` characters."""
    line = " ".join(answer.split())
    return line if len(line) <= ANSWER_PREVIEW else line[: ANSWER_PREVIEW - 1] + "…"


def _took(started: str | None, finished: str | None) -> str:
    if not started or not finished:
        return "-"
    seconds = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    return f"{seconds:.1f}s"

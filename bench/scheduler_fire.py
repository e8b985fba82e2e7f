"""The scheduler under load: 10,000 jobs due within one minute, each a full agent turn.

In one process: an App serving (inbox, outbox, agents) with the scheduler, against
the fake LLM in its own process (instant answers). Measured:

* firing delay, from each job's due time to (a) its run being recorded (``started_at``,
  the scheduler's decision), (b) its envelope stored and its turn started in the
  background (the ``job.started`` event, after ``router.submit`` returned) and (c) the
  agent's turn starting (the ``turn.started`` event): median, p99, max;
* RSS and idle CPU (process CPU time over 10 s with nothing due) with 10,000 jobs
  registered, against the same process before they were.

Each run's envelope is stored with the run, in the transaction that fires it; its
turn then starts when one of the router's turn slots is free (``--max-turns``, the
router's default otherwise), so under overload (c) grows while (a) and (b) stay short.

    python -m bench.scheduler_fire [--jobs 10000] [--window 60] [--idle 10] [--max-turns N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import emit, fake_llm_process, roost_home

LEAD_S = 2.0
"""Time between loading the due jobs and the first one being due."""


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _jobs(prefix: str, dues: list[datetime], kind: str) -> list[Any]:
    from roost.scheduler.model import JOB_ACTIVE, Job

    now = datetime.now(UTC)
    return [
        Job(
            id=0,
            name=f"{prefix}-{n}",
            owner="bench",
            agent="assistant",
            prompt=f"job {n}",
            kind="every" if kind == "every" else "at",
            expr="1d" if kind == "every" else due.isoformat(),
            timezone="UTC",
            session="isolated",
            deliver=[],
            catch_up="once",
            overlap="skip",
            model=None,
            timeout_s=600.0,
            state=JOB_ACTIVE,
            anchor=now,
            next_due=due,
        )
        for n, due in enumerate(dues)
    ]


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


async def _probe_lag(lags: list[float], period: float = 0.005) -> None:
    """How late the event loop runs a timer: time the process could not give anyone."""
    loop = asyncio.get_running_loop()
    while True:
        expected = loop.time() + period
        await asyncio.sleep(period)
        lags.append(max(loop.time() - expected, 0.0))


async def _instant_turn(
    deps: Any, session: str, text: str, observer: Any = None, origin: Any = None
) -> Any:
    from roost.agents.turn import TurnResult

    return TurnResult(agent=deps.settings.name, session=session, text=f"echo: {text}", status="ok")


async def _stub_agent(app: Any) -> None:
    """Replace the assistant with one that answers at once, without the store or a model."""
    from roost.agents.actor import Agent

    real = app.agents["assistant"]
    stub = Agent(real.deps, runner=_instant_turn)
    stub.start()
    app.agents["assistant"] = stub
    await real.stop(0)


class _Watch:
    """Times of job.started / turn.started / job.finished events for the due jobs."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.started: dict[int, tuple[float, float]] = {}
        self.turns: dict[int, float] = {}
        self.finished: list[str] = []
        self.all_finished = asyncio.Event()

    def on_job(self, event: Any) -> None:
        if event.name == "job.started":
            due = datetime.fromisoformat(event.data["scheduled_for"]).timestamp()
            self.started[event.data["message_id"]] = (due, time.time())
        elif event.name == "job.finished" and event.data["job"].startswith("due-"):
            self.finished.append(event.data["status"])
            if len(self.finished) == self.jobs:
                self.all_finished.set()

    def on_turn(self, event: Any) -> None:
        if event.name == "turn.started":
            self.turns[event.data["message_id"]] = time.time()

    def delays(self) -> dict[str, Any]:
        submitted = [at - due for due, at in self.started.values()]
        turn = [self.turns[e] - self.started[e][0] for e in self.started if e in self.turns]
        return {
            "fired": len(self.started),
            "finished_ok": self.finished.count("ok"),
            "finished_by_status": dict(Counter(self.finished)),
            "delay_to_envelope_submitted": _stats(submitted),
            "delay_to_turn_started": _stats(turn),
        }


async def _idle_phase(scheduler: Any, jobs: int, idle: float) -> dict[str, Any]:
    """RSS and CPU with ``jobs`` registered (due tomorrow) and nothing due."""
    rss_empty = _rss_mb()
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    await scheduler.jobs.insert_many(_jobs("idle", [tomorrow] * jobs, "every"))
    await scheduler.loop.load()
    rss_loaded = _rss_mb()
    cpu = time.process_time()
    await asyncio.sleep(idle)
    return {
        "rss_mb_before_jobs": round(rss_empty, 1),
        "rss_mb_with_jobs": round(rss_loaded, 1),
        "rss_mb_per_10k_jobs": round((rss_loaded - rss_empty) * 10_000 / jobs, 1),
        "idle_cpu_s": round(time.process_time() - cpu, 4),
        "idle_s": idle,
    }


async def _firing_phase(app: Any, scheduler: Any, jobs: int, window: float) -> dict[str, Any]:
    """``jobs`` one-shot jobs due evenly over ``window`` seconds; wait until all ended."""
    from roost.bus.events import AGENTS, JOBS

    watch = _Watch(jobs)
    app.events.subscribe(JOBS, watch.on_job)
    app.events.subscribe(AGENTS, watch.on_turn)
    first = datetime.now(UTC) + timedelta(seconds=LEAD_S)
    dues = [first + timedelta(seconds=window * n / jobs) for n in range(jobs)]
    await scheduler.jobs.insert_many(_jobs("due", dues, "at"))
    await scheduler.loop.load()
    scheduler.loop.wake.set()
    cpu, loop_cpu, wall = time.process_time(), time.thread_time(), time.monotonic()
    lags: list[float] = []
    probe = asyncio.create_task(_probe_lag(lags))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(watch.all_finished.wait(), LEAD_S + window + 60 + jobs / 20)
    probe.cancel()
    cpu = time.process_time() - cpu
    return {
        **watch.delays(),
        "delay_to_run_recorded": _stats(await _recorded_delays(app)),
        "event_loop_lag": _stats(lags),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "cpu_s_while_firing": round(cpu, 2),
        "cpu_ms_per_run": round(cpu * 1000 / max(len(watch.finished), 1), 2),
        "event_loop_thread_cpu_s": round(time.thread_time() - loop_cpu, 2),
        "wall_s_until_all_finished": round(time.monotonic() - wall, 2),
    }


async def _measure(
    config: Path, jobs: int, window: float, idle: float, stub: bool, max_turns: int | None
) -> dict[str, Any]:
    from roost.app import App
    from roost.bus.envelope import Envelope
    from roost.config.loader import load_settings
    from roost.scheduler.service import SchedulerService

    app = App(load_settings(config), [SchedulerService])
    scheduler = app.feature(SchedulerService)
    if max_turns is not None:
        app.router.set_max_turns(max_turns)
    await app.start(recover=True)
    try:
        # The first turn imports the model SDK (about a second, in a worker thread).
        await app.router.ask(Envelope("bench", "agent:assistant", "warm-up", "hello"), 60)
        if stub:
            await _stub_agent(app)
        idle_figures = await _idle_phase(scheduler, jobs, idle)
        firing = await _firing_phase(app, scheduler, jobs, window)
    finally:
        await app.stop(grace_s=5)
    turns = "stub (the agent answers at once, in process)" if stub else "fake LLM"
    return {
        "turns": turns,
        "jobs": jobs,
        "window_s": window,
        "max_turns": app.router.max_turns,
        **firing,
        **idle_figures,
    }


async def _recorded_delays(app: Any) -> list[float]:
    """started_at - scheduled_for of every run of the due jobs, from job_runs."""
    from sqlalchemy import select

    from roost.store.tables import job_runs

    query = select(job_runs.c.scheduled_for, job_runs.c.started_at).where(
        job_runs.c.job_name.like("due-%"), job_runs.c.started_at.is_not(None)
    )
    async with app.db.engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [(started - scheduled).total_seconds() for scheduled, started in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds the dues spread over")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measuring")
    parser.add_argument(
        "--stub-turns",
        action="store_true",
        help="the agent answers at once without a model call or its own writes: measures the "
        "scheduler, inbox and outbox alone",
    )
    parser.add_argument(
        "--max-turns", type=int, default=None, help="turns going on at once (the router's)"
    )
    args = parser.parse_args()
    with fake_llm_process() as url, roost_home(url) as (directory, _):
        figures = asyncio.run(
            _measure(
                directory / "roost.yaml",
                args.jobs,
                args.window,
                args.idle,
                args.stub_turns,
                args.max_turns,
            )
        )
    sub, rec = figures["delay_to_envelope_submitted"], figures["delay_to_run_recorded"]
    turn = figures["delay_to_turn_started"]
    emit(
        figures,
        f"scheduler: {figures['fired']}/{args.jobs} jobs fired over {args.window:g} s; due → "
        f"envelope submitted median {sub['median_ms']} ms, p99 {sub['p99_ms']} ms, max "
        f"{sub['max_ms']} ms (target p99 <= 50 ms); due → run recorded p99 {rec['p99_ms']} ms; "
        f"due → turn started p99 {turn['p99_ms']} ms (at most {figures['max_turns']} turns at "
        f"once; all ended after {figures['wall_s_until_all_finished']} s, the first due at "
        f"{LEAD_S:g} s); event-loop lag p99 "
        f"{figures['event_loop_lag']['p99_ms']} ms (load {figures['load_average_1m']} on "
        f"{figures['cpus']} CPUs); RSS {figures['rss_mb_with_jobs']} MB with "
        f"{args.jobs} jobs (+{figures['rss_mb_per_10k_jobs']} MB per 10k); idle CPU "
        f"{figures['idle_cpu_s']} s over {args.idle:g} s",
    )


if __name__ == "__main__":
    main()

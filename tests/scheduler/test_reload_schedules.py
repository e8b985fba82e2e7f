"""`schedules:` changes taken in by a running process through the config reload that
SIGHUP and `roost reload` run (``reload_config``), on the manual clock: added jobs
fire, removed ones stop with their history kept, changes apply from the next run,
a due run is neither lost nor run twice, run-time jobs are left alone and a run in
progress finishes as it started."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest

from roost.cli.config_reload import reload_config
from roost.timing.clock import ManualClock
from tests.fakes.llm_server import FakeLLM
from tests.scheduler.conftest import START, Harness, SettingsMaker, serving
from tests.support.held_llm import held_answers

TICK = """\
tick:
  every: 15m
  agent: assistant
  prompt: {prompt}
  deliver: [telegram:{chat}]
"""


async def _reload(h: Harness, make_settings: SettingsMaker, schedules: str) -> dict[str, Any]:
    """Write the config with these ``schedules`` and reload it as SIGHUP does."""
    path = make_settings(schedules).config_path
    outcome = await reload_config(h.app, path)
    assert outcome["ok"] is True, outcome
    return outcome


def _prompts(fake_llm: FakeLLM) -> list[str]:
    return [json.dumps(request.body) for request in fake_llm.requests]


async def test_added_jobs_fire_removed_ones_stop_and_changes_apply_from_the_next_run(
    make_settings: SettingsMaker, manual_clock: ManualClock, fake_llm: FakeLLM
) -> None:
    old = "old:\n  every: 15m\n  agent: coder\n  prompt: old-job\n"
    settings = make_settings(TICK.format(prompt="tick-one", chat=1) + old)
    async with serving(settings, manual_clock) as h:
        await h.advance(timedelta(minutes=15))
        await h.settled_runs("tick", 1)
        [old_run] = await h.settled_runs("old", 1)
        mine = await h.scheduler.add("mine", agent="assistant", prompt="mine", every="15m")

        fresh = "fresh:\n  every: 10m\n  agent: coder\n  prompt: fresh-job\n"
        outcome = await _reload(h, make_settings, TICK.format(prompt="tick-two", chat=2) + fresh)

        assert outcome["applied"] == [
            "schedules.fresh (added)",
            "schedules.tick.prompt",
            "schedules.tick.deliver",
            "schedules.old (removed)",
        ]
        assert outcome["needs_restart"] == []
        jobs = {job.name: job for job in await h.scheduler.list_jobs()}
        assert jobs["old"].state == "disabled" and jobs["old"].next_due is None
        assert jobs["tick"].next_due == START + timedelta(minutes=30)  # its place in time kept
        assert jobs["fresh"].next_due == START + timedelta(minutes=25)
        assert (jobs["mine"].owner, jobs["mine"].next_due) == ("user", mine.next_due)

        await h.advance(timedelta(minutes=10))
        await h.settled_runs("fresh", 1)
        await h.advance(timedelta(minutes=5))
        runs = await h.settled_runs("tick", 2)
        assert [r.scheduled_for for r in runs] == [
            START + timedelta(minutes=15),
            START + timedelta(minutes=30),
        ]
        delivered = await h.channel.wait_for(2)
        assert [(d.target, d.body) for d in delivered] == [
            ("telegram:1", "echo: tick-one"),
            ("telegram:2", "echo: tick-two"),
        ]
        assert await h.runs("old") == [old_run]  # stopped, its history kept
        assert len(await h.settled_runs("mine", 1)) == 1  # the run-time job goes on
        assert sum("old-job" in body for body in _prompts(fake_llm)) == 1


@pytest.mark.parametrize("loop_first", [True, False])
async def test_a_run_due_at_the_reload_runs_once_and_the_new_timing_starts_from_it(
    make_settings: SettingsMaker, manual_clock: ManualClock, loop_first: bool
) -> None:
    hourly = TICK.format(prompt="p", chat=1).replace("every: 15m", "every: 1h")
    async with serving(make_settings(TICK.format(prompt="p", chat=1)), manual_clock) as h:
        if loop_first:
            await h.advance(timedelta(minutes=15))  # the loop has fired it
            applied = (await _reload(h, make_settings, hourly))["applied"]
        else:
            await h.advance(timedelta(minutes=14))
            new = make_settings(hourly)
            h.clock.advance(timedelta(minutes=1))
            # Due, and the loop has not run yet: the scheduler's part of the reload
            # (reload_config reads the file off the loop first, which lets the loop in).
            applied = (await h.scheduler.reload_schedules(new.schedules)).applied

        assert applied == ["schedules.tick.every"]
        [run] = await h.settled_runs("tick", 1)
        assert run.scheduled_for == START + timedelta(minutes=15)
        [job] = await h.scheduler.list_jobs()
        assert job.next_due == START + timedelta(minutes=75)
        await h.advance(timedelta(minutes=59))
        assert len(await h.runs("tick")) == 1
        await h.advance(timedelta(minutes=1))
        runs = await h.settled_runs("tick", 2)
        assert [r.scheduled_for for r in runs] == [
            START + timedelta(minutes=15),
            START + timedelta(minutes=75),
        ]


async def test_a_reload_without_changes_applies_nothing_and_disabling_names_the_key(
    make_settings: SettingsMaker, manual_clock: ManualClock
) -> None:
    tick = TICK.format(prompt="p", chat=1)
    async with serving(make_settings(tick), manual_clock) as h:
        assert (await _reload(h, make_settings, tick))["applied"] == []
        outcome = await _reload(h, make_settings, tick + "  enabled: false\n")
        assert outcome["applied"] == ["schedules.tick.enabled"]
        [job] = await h.scheduler.list_jobs()
        assert job.state == "disabled"
        await h.advance(timedelta(minutes=15))
        assert await h.runs("tick") == []
        outcome = await _reload(h, make_settings, tick)
        assert outcome["applied"] == ["schedules.tick.enabled"]
        [job] = await h.scheduler.list_jobs()
        assert (job.state, job.next_due) == ("active", START + timedelta(minutes=30))


async def test_run_time_jobs_and_schedules_for_new_agents_wait_for_a_restart(
    make_settings: SettingsMaker, manual_clock: ManualClock
) -> None:
    async with serving(make_settings(), manual_clock) as h:
        mine = await h.scheduler.add("mine", agent="assistant", prompt="mine", every="15m")
        path = h.app.settings.config_path
        assert path is not None
        writer = "  writer: {model: claude/claude-haiku-4-5}\n"
        clash = "  mine: {every: 1h, agent: coder, prompt: from-config}\n"
        newcomer = "  later: {every: 1h, agent: writer, prompt: hi}\n"
        text = path.read_text().replace("agents:\n", "agents:\n" + writer, 1)
        path.write_text(text + "schedules:\n" + clash + newcomer)

        outcome = await reload_config(h.app, path)

        assert outcome["ok"] is True and outcome["applied"] == []
        assert outcome["needs_restart"] == [
            "agents.writer (added)",
            "schedules.mine (a job added at run time (owner user) has this name and is left "
            "as it is; rename the schedule, or a restart makes the config's job replace it)",
            "schedules.later (agent writer is not running yet)",
        ]
        [job] = await h.scheduler.list_jobs()
        assert (job.name, job.owner, job.prompt, job.next_due) == (
            "mine",
            "user",
            "mine",
            mine.next_due,
        )


async def test_a_run_in_progress_finishes_as_it_started(
    make_settings: SettingsMaker, manual_clock: ManualClock, fake_llm: FakeLLM
) -> None:
    tick = TICK.format(prompt="first", chat=1)
    async with serving(make_settings(tick), manual_clock) as h:
        with held_answers(fake_llm) as release:
            await h.advance(timedelta(minutes=15))
            await asyncio.to_thread(fake_llm.wait_for_requests, 1)

            outcome = await _reload(h, make_settings, TICK.format(prompt="second", chat=2))

            assert outcome["applied"] == ["schedules.tick.prompt", "schedules.tick.deliver"]
            [running] = await h.runs("tick")
            assert running.status == "running"
            release.set()
        [run] = await h.settled_runs("tick", 1)
        assert run.status == "ok"
        await h.advance(timedelta(minutes=15))
        await h.settled_runs("tick", 2)
        delivered = await h.channel.wait_for(2)
        assert [(d.target, d.body) for d in delivered] == [
            ("telegram:1", "echo: first"),
            ("telegram:2", "echo: second"),
        ]


async def test_a_paused_job_stays_paused_and_a_rewrite_keeps_what_a_run_end_wrote(
    make_settings: SettingsMaker, manual_clock: ManualClock
) -> None:
    async with serving(make_settings(TICK.format(prompt="p", chat=1)), manual_clock) as h:
        await h.scheduler.pause("tick")
        outcome = await _reload(h, make_settings, TICK.format(prompt="q", chat=1))
        assert outcome["applied"] == ["schedules.tick.prompt"]
        [job] = await h.scheduler.list_jobs()
        assert (job.state, job.next_due, job.prompt) == ("paused", None, "q")

        read = await h.scheduler.get_job("tick")
        await h.scheduler.jobs.update(read.id, consecutive_failures=3)  # a run ended since
        changed = dataclasses.replace(read, prompt="r")
        assert await h.scheduler.jobs.write_changes(read, changed) == ["prompt"]
        now = await h.scheduler.get_job("tick")
        assert (now.prompt, now.consecutive_failures) == ("r", 3)

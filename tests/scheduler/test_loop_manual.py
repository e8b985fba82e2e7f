"""The scheduler loop on a hand-driven clock: due times, zones, pause, overlap."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from roost.scheduler.runner import STOPPING_ERROR
from roost.scheduler.runs import RunStore
from roost.timing.clock import ManualClock
from tests.fakes.llm_server import FakeLLM
from tests.scheduler.conftest import START, SettingsMaker, serving
from tests.support.held_llm import held_answers


async def test_an_every_job_fires_on_its_beat_and_records_each_run(
    make_settings: SettingsMaker, manual_clock: ManualClock, fake_llm: FakeLLM
) -> None:
    settings = make_settings(
        """\
        tick:
          every: 15m
          agent: assistant
          prompt: tick
          deliver: [telegram:42]
        """
    )
    async with serving(settings, manual_clock) as h:
        [job] = await h.scheduler.list_jobs()
        assert job.owner == "config" and job.next_due == START + timedelta(minutes=15)
        await h.advance(timedelta(minutes=14, seconds=59))
        assert await h.runs("tick") == []
        await h.advance(timedelta(seconds=1))
        [run] = await h.settled_runs("tick", 1)
        assert run.status == "ok" and run.scheduled_for == START + timedelta(minutes=15)
        assert run.session == f"job:tick:{run.id}" and run.output_tokens > 0
        assert run.cost_usd > 0 and run.envelope_id is not None
        await h.advance(timedelta(minutes=15))
        runs = await h.settled_runs("tick", 2)
        assert [r.scheduled_for for r in runs] == [
            START + timedelta(minutes=15),
            START + timedelta(minutes=30),
        ]
        delivered = await h.channel.wait_for(2)
        assert [d.body for d in delivered] == ["echo: tick", "echo: tick"]
        assert delivered[0].meta["kind"] == "job_result" and delivered[0].meta["job"] == "tick"
        assert len(fake_llm.requests) == 2


async def test_cron_follows_the_jobs_time_zone_and_at_fires_once(
    make_settings: SettingsMaker, manual_clock: ManualClock
) -> None:
    settings = make_settings(
        """\
        morning:
          cron: "0 8 * * *"
          timezone: Europe/Berlin
          agent: assistant
          prompt: good morning
        new-york:
          cron: "0 8 * * *"
          timezone: America/New_York
          agent: assistant
          prompt: hello NY
        once:
          at: "2026-05-08T13:00"
          timezone: Europe/Berlin
          agent: coder
          prompt: just once
        """
    )
    async with serving(settings, manual_clock) as h:
        jobs = {job.name: job for job in await h.scheduler.list_jobs()}
        # 08:00 CEST is 06:00 UTC; 08:00 EDT is 12:00 UTC; 13:00 CEST is 11:00 UTC.
        assert jobs["morning"].next_due == datetime(2026, 5, 9, 6, tzinfo=UTC)
        assert jobs["new-york"].next_due == datetime(2026, 5, 8, 12, tzinfo=UTC)
        assert jobs["once"].next_due == datetime(2026, 5, 8, 11, tzinfo=UTC)
        await h.advance(timedelta(hours=1))
        [once] = await h.settled_runs("once", 1)
        assert once.status == "ok" and await h.runs("new-york") == []
        assert (await h.scheduler.get_job("once")).state == "done"
        await h.advance(timedelta(hours=1))
        await h.settled_runs("new-york", 1)
        await h.advance(timedelta(hours=18))
        [morning] = await h.settled_runs("morning", 1)
        assert morning.scheduled_for == datetime(2026, 5, 9, 6, tzinfo=UTC)
        assert len(await h.runs("once")) == 1 and len(await h.runs("new-york")) == 1
        assert h.scheduler.health()["jobs"] == 2


async def test_a_paused_job_does_not_fire_and_resumes_from_now(
    make_settings: SettingsMaker, manual_clock: ManualClock
) -> None:
    async with serving(make_settings(), manual_clock) as h:
        await h.scheduler.add("beat", agent="assistant", prompt="beat", every="10m")
        await h.scheduler.pause("beat")
        await h.advance(timedelta(hours=1))
        assert await h.runs("beat") == []
        resumed = await h.scheduler.resume("beat")
        # The beat keeps its anchor: the next slot after now, nothing caught up.
        assert resumed.next_due == START + timedelta(hours=1, minutes=10)
        await h.advance(timedelta(minutes=10))
        [run] = await h.settled_runs("beat", 1)
        assert run.scheduled_for == START + timedelta(hours=1, minutes=10)


async def test_overlap_skip_records_a_skipped_run_while_the_last_one_goes_on(
    make_settings: SettingsMaker, manual_clock: ManualClock, fake_llm: FakeLLM
) -> None:
    settings = make_settings("skipper: {every: 1m, agent: assistant, prompt: hi, overlap: skip}")
    async with serving(settings, manual_clock) as h:
        with held_answers(fake_llm) as release:
            await h.advance(timedelta(minutes=1))
            await asyncio.to_thread(fake_llm.wait_for_requests, 1)
            await h.advance(timedelta(minutes=1))  # the first run still goes on
            release.set()
            first, second = await h.settled_runs("skipper", 2)
        assert first.status == "ok" and second.status == "skipped"
        assert second.error is not None and "overlap" in second.error
        assert second.scheduled_for == START + timedelta(minutes=2)
        assert len(fake_llm.requests) == 1


async def test_overlap_queue_starts_the_next_run_when_the_last_one_ends(
    make_settings: SettingsMaker, manual_clock: ManualClock, fake_llm: FakeLLM
) -> None:
    settings = make_settings("queuer: {every: 1m, agent: coder, prompt: hi, overlap: queue}")
    async with serving(settings, manual_clock) as h:
        with held_answers(fake_llm) as release:
            await h.advance(timedelta(minutes=1))
            await asyncio.to_thread(fake_llm.wait_for_requests, 1)
            await h.advance(timedelta(minutes=1))
            [running] = await h.runs("queuer")  # the second waits: not even recorded yet
            assert running.status == "running"
            release.set()
            first, second = await h.settled_runs("queuer", 2)
        assert (first.status, second.status) == ("ok", "ok")
        assert second.scheduled_for == START + timedelta(minutes=2)
        assert len(fake_llm.requests) == 2


async def test_runs_beyond_max_turns_are_sent_at_once_and_their_turns_wait_for_a_slot(
    make_settings: SettingsMaker, manual_clock: ManualClock, fake_llm: FakeLLM
) -> None:
    settings = make_settings(
        """\
        first: {every: 1m, agent: assistant, prompt: one}
        second: {every: 1m, agent: coder, prompt: two}
        """
    )
    async with serving(settings, manual_clock) as h:
        h.app.router.set_max_turns(1)
        with held_answers(fake_llm) as release:
            await h.advance(timedelta(minutes=1))
            await asyncio.to_thread(fake_llm.wait_for_requests, 1)
            # Both fired (runs recorded, envelopes stored), one turn goes on, one waits.
            assert h.scheduler.health()["running"] == 2 and len(fake_llm.requests) == 1
            assert h.app.router.in_flight == 1 and h.app.router.waiting == 1
            pending = await h.app.bus.unfinished()
            assert sorted(envelope.body for envelope in pending) == ["one", "two"]
            release.set()
        [one] = await h.settled_runs("first", 1)
        [two] = await h.settled_runs("second", 1)
        assert (one.status, two.status) == ("ok", "ok") and len(fake_llm.requests) == 2


async def test_an_answered_run_is_recorded_with_the_answer_and_a_failed_one_after_it(
    make_settings: SettingsMaker,
    manual_clock: ManualClock,
    fake_llm: FakeLLM,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings("beat: {every: 1m, agent: assistant, prompt: hi}")
    separate: list[int] = []
    finish = RunStore.finish

    async def counted(self: RunStore, run_id: int, *args: Any) -> Any:
        separate.append(run_id)
        return await finish(self, run_id, *args)

    monkeypatch.setattr(RunStore, "finish", counted)
    async with serving(settings, manual_clock) as h:
        await h.advance(timedelta(minutes=1))
        [ok] = await h.settled_runs("beat", 1)
        assert ok.status == "ok" and ok.output_tokens > 0 and ok.cost_usd > 0
        assert separate == []  # no transaction of its own: it went with the answer
        fake_llm.fail(500, "boom", retry_after=0.01, times=3)
        await h.advance(timedelta(minutes=1))
        _, failed = await h.settled_runs("beat", 2)
        assert failed.status == "failed" and separate == [failed.id]


async def test_a_job_due_while_roost_stops_is_recorded_missed_without_a_message(
    make_settings: SettingsMaker, manual_clock: ManualClock, fake_llm: FakeLLM
) -> None:
    settings = make_settings("late: {every: 1m, agent: assistant, prompt: hi}")
    async with serving(settings, manual_clock) as h:
        h.app.router.close()
        await h.advance(timedelta(minutes=1))
        [run] = await h.settled_runs("late", 1)
        assert run.status == "missed" and run.error == STOPPING_ERROR
        assert await h.app.bus.unfinished() == [] and fake_llm.requests == []

"""Across restarts on a hand-driven clock: catch-up after downtime, config upsert/disable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from roost.timing.clock import ManualClock
from tests.scheduler.conftest import START, SettingsMaker, serving

HOURLY = "hourly: {{every: 1h, agent: assistant, prompt: beat, catch_up: {policy}}}"


@pytest.mark.parametrize(
    ("policy", "ran", "missed"),
    [("skip", 0, 5), ("once", 1, 4), ("all", 5, 0)],
)
async def test_runs_missed_while_down_follow_the_catch_up_policy(
    make_settings: SettingsMaker, policy: str, ran: int, missed: int
) -> None:
    settings = make_settings(HOURLY.format(policy=policy))
    async with serving(settings, ManualClock(START)) as h:
        await h.advance(timedelta(hours=1))
        await h.settled_runs("hourly", 1)
    # Down from 11:00 until 16:30: the fires at 12:00 … 16:00 were missed.
    later = ManualClock(START + timedelta(hours=6, minutes=30))
    async with serving(settings, later) as h:
        runs = await h.settled_runs("hourly", 1 + ran + missed)
        after_downtime = runs[1:]
        assert sorted(r.status for r in after_downtime) == sorted(
            ["ok"] * ran + ["missed"] * missed
        )
        assert {r.scheduled_for for r in after_downtime} == {
            START + timedelta(hours=n) for n in range(2, 7)
        }
        if policy == "once":
            [done] = [r for r in after_downtime if r.status == "ok"]
            assert done.scheduled_for == START + timedelta(hours=6)  # the latest one
        missed_run = next((r for r in after_downtime if r.status == "missed"), None)
        assert missed_run is None or missed_run.error == "Roost was not running at this time"
        job = await h.scheduler.get_job("hourly")
        assert job.next_due == START + timedelta(hours=7)


async def test_config_jobs_are_upserted_by_name_and_removed_ones_disabled(
    make_settings: SettingsMaker,
) -> None:
    first = make_settings(
        """\
        keep: {every: 1h, agent: assistant, prompt: old prompt}
        drop: {every: 1h, agent: assistant, prompt: going away}
        """
    )
    async with serving(first, ManualClock(START)) as h:
        await h.scheduler.add("mine", agent="coder", prompt="runtime job", every="2h")
        await h.advance(timedelta(hours=1))
        await h.settled_runs("drop", 1)
        await h.settled_runs("keep", 1)
    second = make_settings(
        """\
        keep: {every: 1h, agent: coder, prompt: new prompt, deliver: telegram:7}
        """
    )
    async with serving(second, ManualClock(START + timedelta(hours=1, minutes=1))) as h:
        jobs = {job.name: job for job in await h.scheduler.list_jobs()}
        assert set(jobs) == {"keep", "drop", "mine"}
        assert jobs["drop"].state == "disabled" and jobs["drop"].next_due is None
        assert len(await h.runs("drop")) == 1  # history kept
        keep = jobs["keep"]
        assert (keep.agent, keep.prompt, keep.deliver) == ("coder", "new prompt", ["telegram:7"])
        assert keep.state == "active" and keep.next_due == START + timedelta(hours=2)
        assert keep.last_status == "ok"
        assert jobs["mine"].owner == "user" and jobs["mine"].state == "active"
        with pytest.raises(Exception, match="config file"):
            await h.scheduler.remove("keep")
        await h.advance(timedelta(hours=2))
        assert len(await h.runs("drop")) == 1
        assert len(await h.settled_runs("keep", 3)) == 3

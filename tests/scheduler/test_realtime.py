"""The scheduler inside a serving App on the real clock, with the fake LLM."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from roost.bus.dispatcher import DeliveryError
from roost.bus.envelope import Delivery, Envelope
from roost.bus.events import JOBS, Event
from roost.testing import RecordingChannel, settled
from tests.fakes.llm_server import FakeLLM
from tests.scheduler.conftest import SettingsMaker, eventually, serving


async def test_a_job_fires_on_time_and_its_answer_is_delivered(
    make_settings: SettingsMaker, fake_llm: FakeLLM
) -> None:
    fake_llm.reply("Time to stretch!")
    prices = 'models: {"claude/claude-custom": {input: 1.0, output: 2.0}}\n'
    async with serving(make_settings(extra=prices)) as h:
        events: list[Event] = []
        h.app.events.subscribe(JOBS, events.append)
        job = await h.scheduler.add(
            "stretch",
            agent="assistant",
            prompt="remind",
            at="in 1s",
            deliver=["telegram:42"],
            model="claude/claude-custom",
        )
        assert job.next_due is not None
        [delivery] = await h.channel.wait_for(1, within=5)
        assert delivery.body == "Time to stretch!" and delivery.target == "telegram:42"
        [run] = await h.settled_runs("stretch", 1)
        assert run.status == "ok" and run.scheduled_for == job.next_due
        assert run.started_at is not None
        assert 0 <= (run.started_at - run.scheduled_for).total_seconds() < 0.5
        [row] = run.deliveries
        assert (row.target, row.kind) == ("telegram:42", "job_result")
        assert [e.name for e in events] == ["job.started", "job.finished"]
        assert events[0].data["run_id"] == run.id and events[0].data["job"] == "stretch"
        assert events[1].data["status"] == "ok" and events[1].data["cost_usd"] > 0
        [request] = fake_llm.requests
        # The newest message carries the prompt-cache mark, so its text is a block.
        assert request.body["messages"][-1]["content"][0]["text"] == "remind"
        assert request.body["model"] == "claude-custom"  # the job's model override


async def test_a_run_missed_during_a_restart_is_caught_up_once(
    make_settings: SettingsMaker,
) -> None:
    settings = make_settings("pulse: {every: 1s, agent: assistant, prompt: pulse}")
    async with serving(settings) as h:
        await h.settled_runs("pulse", 1, within=5)
    stopped = datetime.now(UTC)
    await asyncio.sleep(2.2)
    async with serving(settings) as h:
        restarted = h.scheduler.loop.started_at
        runs = await h.settled_runs("pulse", 4, within=5)
        downtime = [r for r in runs if stopped < r.scheduled_for < restarted]
        assert len(downtime) >= 2
        caught_up = [r for r in downtime if r.status == "ok"]
        assert len(caught_up) == 1 and caught_up[0].scheduled_for == downtime[-1].scheduled_for
        assert all(r.status == "missed" for r in downtime[:-1])


class PickyChannel(RecordingChannel):
    """telegram:1 fails once and is retried; telegram:2 refuses for good."""

    async def deliver(self, delivery: Delivery) -> str | None:
        self.attempts += 1
        if delivery.target == "telegram:2":
            raise DeliveryError("chat not found", permanent=True)
        if delivery.target == "telegram:1" and self.attempts <= 2:
            raise DeliveryError("503 from Telegram", retry_after=0.05)
        return await super().deliver(delivery)


async def test_each_target_has_its_own_delivery_status_and_failures_are_retried(
    make_settings: SettingsMaker,
) -> None:
    async with serving(make_settings(), channel=PickyChannel()) as h:
        await h.scheduler.add(
            "news",
            agent="assistant",
            prompt="news",
            every="1h",
            deliver=["telegram:1", "telegram:2"],
        )
        run = await h.scheduler.run_now("news")
        await h.channel.wait_for(1, within=5)

        async def settled() -> bool:
            again = await h.scheduler.get_run(run.id)
            statuses = sorted(f"{d.target}={d.status}" for d in again.deliveries)
            return statuses == ["telegram:1=delivered", "telegram:2=failed"]

        await eventually(settled, 5)
        [final] = await h.scheduler.runs("news")
        by_target = {d.target: d for d in final.deliveries}
        assert by_target["telegram:1"].attempts == 1
        assert by_target["telegram:1"].last_error == "503 from Telegram"
        assert by_target["telegram:1"].delivered_at is not None
        assert by_target["telegram:2"].last_error == "chat not found"
        assert final.status == "ok"  # the run worked; its deliveries are tracked apart


async def test_an_answer_of_nothing_is_silent(
    make_settings: SettingsMaker, fake_llm: FakeLLM
) -> None:
    async with serving(make_settings()) as h:
        await h.scheduler.add(
            "watch", agent="assistant", prompt="anything new?", every="1h", deliver=["telegram:9"]
        )
        fake_llm.reply("  NOTHING\n")
        first = await h.scheduler.wait_for_run((await h.scheduler.run_now("watch")).id, 5)
        fake_llm.reply("Something happened")
        second = await h.scheduler.wait_for_run((await h.scheduler.run_now("watch")).id, 5)
        assert (first.status, first.deliveries) == ("silent", [])
        assert second.status == "ok" and len(second.deliveries) == 1
        [delivered] = await h.channel.wait_for(1)
        assert delivered.body == "Something happened"


async def test_the_owner_is_alerted_once_after_two_failures_in_a_row(
    make_settings: SettingsMaker, fake_llm: FakeLLM
) -> None:
    settings = make_settings(extra="telegram: {token: t, allowed_users: ['@bob', 555]}\n")
    async with serving(settings) as h:
        await h.scheduler.add("flaky", agent="assistant", prompt="try", every="1h")

        async def run(fail: bool) -> str:
            if fail:  # max_retries 2: three attempts per model call
                fake_llm.fail(500, "upstream exploded", retry_after=0.01, times=3)
            started = await h.scheduler.run_now("flaky")
            return (await h.scheduler.wait_for_run(started.id, 10)).status

        assert [await run(True), await run(True), await run(True)] == ["failed"] * 3
        [alert] = await h.channel.wait_for(1)
        assert alert.target == "telegram:555" and alert.meta["kind"] == "job_alert"
        assert "failed 2 times in a row" in alert.body and "upstream exploded" in alert.body
        assert await run(False) == "ok"
        assert (await h.scheduler.get_job("flaky")).consecutive_failures == 0
        assert [await run(True), await run(True)] == ["failed"] * 2
        alerts = await h.channel.wait_for(2)
        await settled(h.app)  # no run and no delivery left: a third alert would be out
        assert len(h.channel.delivered) == 2 and alerts[1].meta["kind"] == "job_alert"


async def test_a_run_over_its_timeout_is_cancelled_and_counts_as_failed(
    make_settings: SettingsMaker, fake_llm: FakeLLM
) -> None:
    async with serving(make_settings()) as h:
        await h.scheduler.add(
            "slow", agent="assistant", prompt="think hard", every="1h", timeout_s=0.3
        )
        fake_llm.delay(5)
        started = await h.scheduler.run_now("slow")
        run = await h.scheduler.wait_for_run(started.id, 5)
        assert run.status == "timeout" and run.error == "timed out after 0.3s"
        assert run.finished_at is not None
        assert (await h.scheduler.get_job("slow")).consecutive_failures == 1
        assert h.app.agents["assistant"].busy_sessions == []


async def test_an_agent_schedules_a_reminder_that_fires_back_to_the_chat(
    make_settings: SettingsMaker, fake_llm: FakeLLM
) -> None:
    fake_llm.tool_call(
        "schedule_job", {"name": "stretch", "when": "in 1s", "prompt": "Remind me to stretch"}
    )
    fake_llm.reply("Reminder set.")
    async with serving(make_settings()) as h:
        await h.app.router.submit(
            Envelope(
                sender="telegram:42",
                recipient="agent:assistant",
                session="chat",
                body="remind me to stretch in a second",
                reply_to="telegram:42",
            )
        )
        first, second = await h.channel.wait_for(2, within=6)
        assert first.body == "Reminder set."
        assert second.body == "echo: Remind me to stretch" and second.meta["job"] == "stretch"
        job = await h.scheduler.get_job("stretch")
        assert job.owner == "agent:assistant" and job.deliver == ["telegram:42"]
        assert job.state == "done"
        [run] = await h.settled_runs("stretch", 1)
        assert run.status == "ok"


async def test_a_run_cut_short_by_a_crash_is_recorded_and_delivered_after_restart(
    make_settings: SettingsMaker, fake_llm: FakeLLM
) -> None:
    settings = make_settings()
    async with serving(settings) as h:
        await h.scheduler.add(
            "report", agent="assistant", prompt="report", every="1h", deliver=["telegram:5"]
        )
        fake_llm.delay(30)
        started = await h.scheduler.run_now("report")
        await asyncio.to_thread(fake_llm.wait_for_requests, 1)
    # The App stopped mid-turn, as after a crash: the run is still "running".
    fake_llm.reset()
    fake_llm.reply("the report, at last")
    async with serving(settings) as h:
        run = await h.scheduler.wait_for_run(started.id, 5)
        assert run.status == "ok" and run.output_tokens > 0
        got = await h.channel.wait_for(1)
        assert len(got) == 1, [(d.id, d.body, d.job_run_id, d.meta) for d in got]
        [delivered] = got
        assert delivered.body == "the report, at last"
        assert delivered.job_run_id == started.id

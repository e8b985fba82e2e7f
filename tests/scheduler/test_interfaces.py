"""The ways in: WebSocket methods, the agents' tools and the Python API's errors."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from roost.app import App
from roost.gateway.methods import CallContext, MethodRegistry
from roost.gateway.protocol import Request
from roost.providers.base import ToolCall
from roost.scheduler.agent_tools import split_when
from roost.scheduler.errors import InvalidJob, JobExists, UnknownAgentForJob, UnknownJob
from roost.scheduler.gateway_methods import job_methods
from roost.scheduler.service import SchedulerService
from roost.timing.clock import ManualClock
from roost.tools.registry import ToolContext
from tests.fakes.llm_server import FakeLLM
from tests.scheduler.conftest import START, Harness, SettingsMaker, serving

TOOLS = ["schedule_job", "list_jobs", "cancel_job"]


async def _call(h: Harness, method: str, **params: Any) -> dict[str, Any]:
    registry = MethodRegistry()
    for job_method in job_methods(h.scheduler):
        registry.register(job_method.name, job_method.params, job_method.handler)
    return await registry.call(CallContext(h.app.ports), Request("1", method, params))


async def test_websocket_methods_manage_jobs_and_name_what_is_wrong(
    make_settings: SettingsMaker, manual_clock: ManualClock
) -> None:
    settings = make_settings("brief: {cron: '0 8 * * *', agent: assistant, prompt: brief}")
    async with serving(settings, manual_clock) as h:
        added = await _call(
            h, "jobs.add", name="poll", agent="coder", prompt="poll", every="5m", deliver=["ws:ui"]
        )
        assert added["ok"], added
        assert added["result"]["job"]["next_due"] == (START + timedelta(minutes=5)).isoformat()
        assert added["result"]["job"]["owner"] == "gateway"
        listed = await _call(h, "jobs.list")
        assert [j["name"] for j in listed["result"]["jobs"]] == ["brief", "poll"]
        assert (await _call(h, "jobs.pause", name="poll"))["result"]["job"]["state"] == "paused"
        assert (await _call(h, "jobs.resume", name="poll"))["result"]["job"]["state"] == "active"
        assert (await _call(h, "jobs.runs", name="poll"))["result"] == {"runs": []}
        assert (await _call(h, "jobs.remove", name="poll"))["result"]["removed"] is True

        def error(response: dict[str, Any]) -> tuple[str, str]:
            assert not response["ok"], response
            return response["error"]["code"], response["error"]["message"]

        code, message = error(
            await _call(h, "jobs.add", name="x", agent="assistant", prompt="p", cron="61 * * * *")
        )
        assert code == "bad_request"
        assert message == "cron '61 * * * *': minute field '61' is not valid"
        code, message = error(
            await _call(h, "jobs.add", name="x", agent="nobody", prompt="p", every="1h")
        )
        assert code == "unknown_agent" and "known: assistant, coder" in message
        assert error(await _call(h, "jobs.pause", name="ghost"))[0] == "not_found"
        code, message = error(await _call(h, "jobs.remove", name="brief"))
        assert code == "forbidden" and "config file" in message
        assert error(await _call(h, "jobs.add", name="y", agent="coder", prompt="p"))[0] == (
            "bad_request"
        )


async def test_the_python_api_refuses_bad_jobs_clearly(
    make_settings: SettingsMaker, manual_clock: ManualClock
) -> None:
    async with serving(make_settings(), manual_clock) as h:
        api = h.scheduler
        with pytest.raises(InvalidJob, match="unknown time zone 'Berlin'; did you mean"):
            await api.add("a", agent="assistant", prompt="p", cron="0 8 * * *", timezone="Berlin")
        with pytest.raises(InvalidJob, match="every '0s' is too short"):
            await api.add("a", agent="assistant", prompt="p", every="0s")
        with pytest.raises(InvalidJob, match="in the past"):
            await api.add("a", agent="assistant", prompt="p", at="2020-01-01T00:00")
        with pytest.raises(InvalidJob, match="not a delivery address"):
            await api.add("a", agent="assistant", prompt="p", every="1h", deliver=["email:x"])
        with pytest.raises(InvalidJob, match="not the provider"):
            await api.add("a", agent="assistant", prompt="p", every="1h", model="gpt/gpt-5")
        with pytest.raises(InvalidJob, match="job name"):
            await api.add("no spaces", agent="assistant", prompt="p", every="1h")
        with pytest.raises(UnknownAgentForJob):
            await api.add("a", agent="ghost", prompt="p", every="1h")
        relative = await api.add("a", agent="assistant", prompt="p", at="in 90m")
        assert relative.next_due == START + timedelta(minutes=90) and relative.kind == "at"
        with pytest.raises(JobExists):
            await api.add("a", agent="assistant", prompt="p", every="1h")
        with pytest.raises(UnknownJob):
            await api.run_now("ghost")


def test_when_is_read_as_cron_every_at_or_in() -> None:
    assert split_when("0 9 * * 1-5") == ("0 9 * * 1-5", None, None)
    assert split_when("every 15m") == (None, "15m", None)
    assert split_when("at 2026-12-01T09:00") == (None, None, "2026-12-01T09:00")
    assert split_when("in 2h") == (None, None, "in 2h")


async def test_agents_touch_only_their_own_jobs(
    make_settings: SettingsMaker, manual_clock: ManualClock, tmp_path: Path
) -> None:
    async with serving(make_settings(), manual_clock) as h:

        async def tool(agent: str, tool_name: str, **arguments: Any) -> tuple[str, bool]:
            context = ToolContext(agent, "s", tmp_path)
            call = ToolCall("c1", tool_name, json.dumps(arguments))
            outcome = await h.app.tools.run(call, context, TOOLS)
            return outcome.text, outcome.is_error

        text, failed = await tool(
            "assistant", "schedule_job", name="water", when="every 2h", prompt="Drink water"
        )
        assert not failed and "scheduled job 'water'" in text and "every 2h" in text
        text, failed = await tool("assistant", "schedule_job", when="whenever", prompt="p")
        assert failed and "cron 'whenever' has 1 fields" in text
        assert (await h.scheduler.get_job("water")).owner == "agent:assistant"
        text, failed = await tool("coder", "cancel_job", name="water")
        assert failed and "belongs to agent:assistant" in text
        assert await tool("coder", "list_jobs") == ("you have no scheduled jobs", False)
        text, _ = await tool("assistant", "list_jobs")
        assert text.startswith("- water: every 2h")
        assert await tool("assistant", "cancel_job", name="water") == (
            "cancelled job 'water'",
            False,
        )
        assert await h.scheduler.list_jobs() == []


async def test_the_jobs_command_backend_goes_through_a_running_gateway(
    make_settings: SettingsMaker, fake_llm: FakeLLM
) -> None:
    from roost.builtin_features import gateway_feature
    from roost.cli.jobs_backend import GatewayBackend, JobsCliError, open_backend

    settings = make_settings(extra="gateway: {port: 0, token: test-token}\n")
    app = App(settings, [gateway_feature, SchedulerService])  # as `roost run` lists them
    await app.start(recover=True)
    try:
        backend = await open_backend(settings)
        assert isinstance(backend, GatewayBackend)
        try:
            added = await backend.call(
                "jobs.add", {"name": "hi", "agent": "assistant", "prompt": "hi", "every": "1h"}
            )
            assert added["job"]["owner"].startswith("ws:roost-jobs-")
            fake_llm.reply("hello from the gateway")
            ran = await backend.run_and_wait("hi", wait=True)
            assert ran["run"]["status"] == "ok" and ran["run"]["output_tokens"] > 0
            with pytest.raises(JobsCliError, match="no job named 'ghost'"):
                await backend.call("jobs.pause", {"name": "ghost"})
        finally:
            await backend.close()
    finally:
        await app.stop(grace_s=0.5)

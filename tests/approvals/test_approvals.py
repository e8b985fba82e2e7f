"""Approvals end to end: a shell command in ``ask`` mode waits for the owner."""

from __future__ import annotations

import asyncio

from roost.approvals.service import ApprovalsService
from roost.approvals.store import ApprovalStore
from roost.tools.approval import DecideError, Decision
from tests.approvals.conftest import RoostFactory, tool_results
from tests.fakes.llm_server import FakeLLM


async def test_an_allowed_command_runs_without_asking(
    start_roost: RoostFactory, fake_llm: FakeLLM
) -> None:
    roost = await start_roost()
    fake_llm.tool_call("shell", {"command": "echo hello from the shell"})
    fake_llm.reply("done")
    result = await roost.ask("say hello")
    assert result.text == "done"
    assert "exit code 0\\nhello from the shell" in tool_results(fake_llm)
    assert roost.events.empty()


async def test_approved_command_runs_and_the_model_sees_its_output(
    start_roost: RoostFactory, fake_llm: FakeLLM
) -> None:
    roost = await start_roost()
    fake_llm.tool_call("shell", {"command": "touch made.txt && echo made it"})
    fake_llm.reply("finished")
    turn = roost.ask("make a file")
    requested = await roost.event("approval.requested")
    assert (requested["agent"], requested["tool"], requested["state"]) == (
        "ops",
        "shell",
        "pending",
    )
    assert requested["summary"] == "touch made.txt && echo made it"
    assert requested["pattern"] is None  # a metacharacter: "Always" cannot cover it
    gate = roost.app.feature(ApprovalsService).gate
    assert [a["id"] for a in await gate.pending()] == [requested["id"]]
    assert not (roost.workspace / "made.txt").exists()
    decided = await gate.decide(requested["id"], Decision.APPROVED, "test:owner")
    assert decided["state"] == "approved" and decided["decided_by"] == "test:owner"
    assert decided["decided_at"] is not None
    result = await turn
    assert result.text == "finished"
    assert (roost.workspace / "made.txt").exists()
    assert "made it" in tool_results(fake_llm)
    assert (await roost.event("approval.decided"))["state"] == "approved"
    try:
        await gate.decide(requested["id"], Decision.DENIED, "someone else")
    except DecideError as exc:
        assert exc.code == "decided" and "approved by test:owner" in str(exc)
    else:
        raise AssertionError("a second decision was accepted")


async def test_denied_command_does_not_run_and_the_model_is_told(
    start_roost: RoostFactory, fake_llm: FakeLLM
) -> None:
    roost = await start_roost()
    fake_llm.tool_call("shell", {"command": "touch denied.txt"})
    fake_llm.reply("ok, not doing it")
    turn = roost.ask("make a file")
    requested = await roost.event("approval.requested")
    gate = roost.app.feature(ApprovalsService).gate
    await gate.decide(requested["id"], Decision.DENIED, "test:owner")
    assert (await turn).text == "ok, not doing it"
    assert not (roost.workspace / "denied.txt").exists()
    assert "the owner denied this command" in tool_results(fake_llm)


async def test_nobody_deciding_in_time_denies(start_roost: RoostFactory, fake_llm: FakeLLM) -> None:
    roost = await start_roost(timeout_s=0.2)
    fake_llm.tool_call("shell", {"command": "touch late.txt"})
    fake_llm.reply("gave up")
    turn = roost.ask("make a file")
    requested = await roost.event("approval.requested")
    decided = await roost.event("approval.decided")
    assert decided["id"] == requested["id"]
    assert (decided["state"], decided["decided_by"]) == ("timed_out", "timeout")
    assert (await turn).text == "gave up"
    assert not (roost.workspace / "late.txt").exists()
    assert "nobody approved this command in time" in tool_results(fake_llm)


async def test_always_allows_the_same_command_from_then_on_across_restarts(
    start_roost: RoostFactory, fake_llm: FakeLLM
) -> None:
    roost = await start_roost()
    fake_llm.tool_call("shell", {"command": "touch  always.txt"})
    fake_llm.reply("first")
    turn = roost.ask("make a file")
    requested = await roost.event("approval.requested")
    assert requested["pattern"] == "touch always.txt"
    gate = roost.app.feature(ApprovalsService).gate
    await gate.decide(requested["id"], Decision.ALWAYS, "test:owner")
    assert (await turn).text == "first"
    (roost.workspace / "always.txt").unlink()
    fake_llm.tool_call("shell", {"command": "touch always.txt"})
    fake_llm.reply("second")
    assert (await roost.ask("again")).text == "second"
    assert (roost.workspace / "always.txt").exists()
    await roost.event("approval.decided")  # the first one's
    assert roost.events.empty()  # the second asked nobody
    await roost.stop()

    again = await start_roost()
    (again.workspace / "always.txt").unlink()
    fake_llm.tool_call("shell", {"command": "touch always.txt"})
    fake_llm.reply("third")
    assert (await again.ask("once more")).text == "third"
    assert (again.workspace / "always.txt").exists()
    assert again.events.empty()
    fake_llm.tool_call("shell", {"command": "touch always.txt other.txt"})
    fake_llm.reply("fourth")
    turn = again.ask("something else")
    other = await again.event("approval.requested")  # only the exact command is allowed
    await again.app.feature(ApprovalsService).gate.decide(other["id"], Decision.DENIED, "t")
    assert (await turn).text == "fourth"


async def test_a_waiting_turn_holds_no_turn_slot(
    start_roost: RoostFactory, fake_llm: FakeLLM
) -> None:
    roost = await start_roost(max_turns=1)
    fake_llm.tool_call("shell", {"command": "touch slow.txt"})
    first = roost.ask("make a file", session="first")
    requested = await roost.event("approval.requested")
    fake_llm.reply("the other turn ran")
    other = await asyncio.wait_for(roost.ask("hello", session="second"), 20)
    assert other.text == "the other turn ran"
    assert not first.done()
    fake_llm.reply("first done")
    await roost.app.feature(ApprovalsService).gate.decide(
        requested["id"], Decision.APPROVED, "test:owner"
    )
    assert (await first).text == "first done"
    assert (roost.workspace / "slow.txt").exists()
    fake_llm.reply("the slot came back")
    assert (await roost.ask("and again", session="third")).text == "the slot came back"


async def test_an_approval_left_pending_by_a_killed_process_is_denied_at_start(
    start_roost: RoostFactory, fake_llm: FakeLLM
) -> None:
    roost = await start_roost()
    store = ApprovalStore(roost.app.db)
    stale = await store.add("ops", "shell", "rm -rf build", None, "s1", None)
    await roost.stop()
    again = await start_roost()
    decided = await again.event("approval.decided")
    assert (decided["id"], decided["state"], decided["decided_by"]) == (
        stale.id,
        "abandoned",
        "restart",
    )
    assert await again.app.feature(ApprovalsService).gate.pending() == []


async def test_stopping_while_a_command_waits_denies_it(
    start_roost: RoostFactory, fake_llm: FakeLLM
) -> None:
    roost = await start_roost()
    fake_llm.tool_call("shell", {"command": "touch never.txt"})
    turn = roost.ask("make a file")
    requested = await roost.event("approval.requested")
    await roost.stop()
    decided = await roost.event("approval.decided")
    assert (decided["id"], decided["state"]) == (requested["id"], "abandoned")
    assert decided["decided_by"] == "cancelled"
    assert not (roost.workspace / "never.txt").exists()
    await asyncio.gather(turn, return_exceptions=True)


async def test_a_process_that_does_not_serve_refuses_at_once(
    start_roost: RoostFactory, fake_llm: FakeLLM
) -> None:
    roost = await start_roost()
    settings = roost.app.settings
    await roost.stop()
    from roost.app import App

    app = App(settings)  # as `roost ask` without a gateway: no lifespans, nobody to ask
    await app.start()
    try:
        fake_llm.tool_call("shell", {"command": "touch direct.txt"})
        fake_llm.reply("could not")
        result = await app.ask("ops", "make a file", "direct")
        assert result.text == "could not"
        assert "which is given while `roost run` serves" in tool_results(fake_llm)
        assert not (settings.agents["ops"].workspace / "direct.txt").exists()
        fake_llm.tool_call("shell", {"command": "echo allowed anyway"})
        fake_llm.reply("ran")
        assert (await app.ask("ops", "say it", "direct")).text == "ran"
        assert "allowed anyway" in tool_results(fake_llm)
    finally:
        await app.stop(grace_s=1)

"""Deciding approvals from outside: the WebSocket methods and `roost approvals`."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from tests.approvals.conftest import TOKEN, Roost, RoostFactory, tool_results
from tests.fakes.llm_server import FakeLLM
from tests.gateway.conftest import WsClient

ROOST = [sys.executable, "-m", "roost"]


async def ws_client(roost: Roost) -> WsClient:
    from roost.gateway.service import GatewayService

    service = roost.app.feature(GatewayService)
    return await WsClient.connect(f"{service.ws_url}?token={TOKEN}")


async def test_approvals_over_the_websocket(start_roost: RoostFactory, fake_llm: FakeLLM) -> None:
    roost = await start_roost()
    client = await ws_client(roost)
    try:
        assert (await client.result("subscribe", {"topics": ["approvals"]}))["topics"]
        fake_llm.tool_call("shell", {"command": "touch ws.txt"})
        fake_llm.reply("done over ws")
        turn = roost.ask("make a file")
        await roost.event("approval.requested")  # the turn got there (a slow machine)
        requested = (await client.event("approval.requested"))["data"]
        listed = await client.result("approvals.list")
        assert [a["id"] for a in listed["approvals"]] == [requested["id"]]
        assert listed["approvals"][0]["summary"] == "touch ws.txt"
        decided = await client.result(
            "approvals.decide", {"id": requested["id"], "decision": "approve"}
        )
        assert decided["approval"]["state"] == "approved"
        assert decided["approval"]["decided_by"].startswith("ws:")
        assert (await client.event("approval.decided"))["data"]["id"] == requested["id"]
        assert (await turn).text == "done over ws"
        assert (roost.workspace / "ws.txt").exists()
        again = await client.call("approvals.decide", {"id": requested["id"], "decision": "deny"})
        assert again["error"]["code"] == "decided"
        ghost = await client.call("approvals.decide", {"id": 9999, "decision": "deny"})
        assert ghost["error"]["code"] == "not_found"
        bad = await client.call("approvals.decide", {"id": 1, "decision": "maybe"})
        assert bad["error"]["code"] == "bad_request"
    finally:
        await client.close()


async def roost_cli(config: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *ROOST,
        "--config",
        str(config),
        "approvals",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_approvals_from_the_cli(start_roost: RoostFactory, fake_llm: FakeLLM) -> None:
    roost = await start_roost()
    config = roost.app.settings.config_path
    assert config is not None
    fake_llm.tool_call("shell", {"command": "touch cli.txt"})
    fake_llm.reply("denied, fine")
    turn = roost.ask("make a file")
    requested = await roost.event("approval.requested")
    code, out, _ = await roost_cli(config, "list", "--json")
    assert code == 0
    assert [a["id"] for a in json.loads(out)["approvals"]] == [requested["id"]]
    code, out, _ = await roost_cli(config, "list")
    assert code == 0 and "touch cli.txt" in out
    code, out, _ = await roost_cli(config, "deny", str(requested["id"]))
    assert code == 0 and f"approval {requested['id']} denied" in out
    assert (await turn).text == "denied, fine"
    assert not (roost.workspace / "cli.txt").exists()
    assert "the owner denied this command" in tool_results(fake_llm)

    fake_llm.tool_call("shell", {"command": "touch cli2.txt"})
    fake_llm.reply("approved always")
    turn = roost.ask("make another")
    requested = await roost.event("approval.requested")
    code, out, _ = await roost_cli(config, "approve", str(requested["id"]), "--always", "--json")
    assert code == 0 and json.loads(out)["approval"]["state"] == "always"
    assert (await turn).text == "approved always"
    code, _, err = await roost_cli(config, "deny", str(requested["id"]))
    assert code == 1 and "decided already" in err and "Traceback" not in err


async def test_the_cli_says_when_no_gateway_runs(
    start_roost: RoostFactory, fake_llm: FakeLLM
) -> None:
    roost = await start_roost()
    config = roost.app.settings.config_path
    assert config is not None
    await roost.stop()
    code, _, err = await roost_cli(config, "list")
    assert code == 1 and "no gateway is running" in err and "Traceback" not in err

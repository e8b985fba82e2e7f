"""Failover as clients see it: a broken stream restarted once over the WebSocket, and the
breakers in /healthz, /metrics and `roost doctor`'s reading of /healthz."""

from __future__ import annotations

import dataclasses

from roost.cli.doctor_probes import circuit_checks, read_health
from roost.config.settings import Settings
from tests.fakes.llm_server import FakeLLM
from tests.gateway.conftest import Gateway, GatewayFactory
from tests.gateway.test_http import metric


async def start(start_gateway: GatewayFactory, failover_settings: Settings) -> Gateway:
    gateway = await start_gateway(
        lambda base: dataclasses.replace(failover_settings, gateway=base.gateway)
    )
    assert gateway.app.warmed_up is not None
    await gateway.app.warmed_up  # both SDKs imported: the turns below wait for no import
    return gateway


async def test_a_stream_broken_midway_is_restarted_not_shown_twice(
    start_gateway: GatewayFactory, failover_settings: Settings, fake_llm: FakeLLM
) -> None:
    gateway = await start(start_gateway, failover_settings)
    client = await gateway.client()
    fake_llm.reply("The first half of an answer that", overloaded_midway=True)
    fake_llm.reply("A whole answer from the backup model.")
    await client.result("chat.send", {"agent": "assistant", "text": "tell me"})
    events = await client.events_until("chat.reply", "chat.error")
    names = [e["event"] for e in events]
    assert names.count("chat.restart") == 1 and names[-1] == "chat.reply"
    restart = names.index("chat.restart")
    before = "".join(e["data"]["text"] for e in events[:restart] if e["event"] == "chat.delta")
    after = "".join(e["data"]["text"] for e in events[restart:] if e["event"] == "chat.delta")
    assert before == "The first half of an answer that"
    assert after == events[-1]["data"]["text"] == "A whole answer from the backup model."
    assert events[restart]["data"]["agent"] == "assistant"
    await client.close()


async def test_no_restart_when_nothing_was_streamed(
    start_gateway: GatewayFactory, failover_settings: Settings, fake_llm: FakeLLM
) -> None:
    gateway = await start(start_gateway, failover_settings)
    client = await gateway.client()
    fake_llm.fail(529)
    fake_llm.reply("backup")
    await client.result("chat.send", {"agent": "assistant", "text": "tell me"})
    events = await client.events_until("chat.reply", "chat.error")
    assert "chat.restart" not in [e["event"] for e in events]
    assert events[-1]["data"]["text"] == "backup"
    await client.close()


async def test_healthz_metrics_and_doctor_show_the_breakers(
    start_gateway: GatewayFactory, failover_settings: Settings, fake_llm: FakeLLM
) -> None:
    gateway = await start(start_gateway, failover_settings)
    async with gateway.http() as http:
        before = (await http.get("/metrics")).text
        assert metric(before, 'roost_provider_circuit_state{provider="claude"}') == 0
        assert metric(before, 'roost_provider_failovers_total{provider="claude"}') == 0
        for _ in range(2):
            fake_llm.fail(503)
            fake_llm.reply("backup")
            await http.post("/api/agents/assistant/messages", json={"text": "hi"})
        after = (await http.get("/metrics")).text
    assert metric(after, 'roost_provider_circuit_state{provider="claude"}') == 1
    assert metric(after, 'roost_provider_circuit_state{provider="gpt"}') == 0
    assert metric(after, 'roost_provider_failovers_total{provider="claude"}') == 2
    problem, health = await read_health(gateway.http_url)
    assert problem is None and health["status"] == "ok"  # the process is alive
    component = health["components"]["providers"]
    assert component["state"] == "degraded"
    assert component["providers"]["claude"]["state"] == "open"
    assert "retry_at" in component["providers"]["claude"]
    checks = dict((what.split(":")[0], (ok, what)) for ok, what in circuit_checks(health))
    assert checks["provider claude"][0] is None  # a warning, not a failure
    assert "circuit open after 2 failure(s) in a row" in checks["provider claude"][1]
    assert "2 failover(s)" in checks["provider claude"][1]
    assert checks["provider gpt"] == (True, "provider gpt: circuit closed")

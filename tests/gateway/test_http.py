"""The REST API, /healthz, /metrics and /openapi.json over real HTTP."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from roost.app import App
from roost.config.settings import Settings
from roost.gateway.metrics import GatewayMetrics
from tests.fakes.llm_server import FakeLLM, FakeUsage
from tests.gateway.conftest import Gateway


async def test_post_a_message_and_read_the_session_back(
    gateway: Gateway, fake_llm: FakeLLM
) -> None:
    fake_llm.reply("Hi from REST", usage=FakeUsage(100, 20))
    async with gateway.http() as http:
        response = await http.post(
            "/api/agents/assistant/messages", json={"text": "hello", "session": "rest"}
        )
        assert response.status_code == 200, response.text
        turn = response.json()
        assert turn["text"] == "Hi from REST" and turn["status"] == "ok"
        assert (turn["agent"], turn["session"]) == ("assistant", "rest")
        assert (turn["input_tokens"], turn["output_tokens"]) == (100, 20)
        assert turn["message_id"] > 0 and turn["cost_usd"] > 0 and turn["duration_ms"] >= 0

        agents = (await http.get("/api/agents")).json()["agents"]
        assert [a["name"] for a in agents] == ["assistant", "coder"]
        sessions = (await http.get("/api/agents/assistant/sessions")).json()["sessions"]
        assert [(s["key"], s["messages"]) for s in sessions] == [("rest", 2)]
        history = (await http.get("/api/agents/assistant/sessions/rest/messages?limit=1")).json()
        assert [m["text"] for m in history["messages"]] == ["Hi from REST"]
        usage = (await http.get("/api/usage?since=2000-01-01")).json()
        assert (
            usage["total"]["input_tokens"] == 100 and usage["by_agent"]["assistant"]["calls"] == 1
        )
        deleted = await http.delete("/api/agents/assistant/sessions/rest")
        assert deleted.json() == {"reset": True}
        gone = await http.get("/api/agents/assistant/sessions/rest/messages")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
        assert (await http.get("/api/agents/assistant/sessions")).json() == {"sessions": []}
        again = await http.delete("/api/agents/assistant/sessions/rest")
        assert again.json() == {"reset": False}


async def test_rest_errors(gateway: Gateway, fake_llm: FakeLLM) -> None:
    async with gateway.http() as http:
        unknown = await http.post("/api/agents/ghost/messages", json={"text": "boo"})
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_agent"
        assert (await http.get("/api/agents/ghost/sessions")).status_code == 404
        missing = await http.get("/api/agents/assistant/sessions/none/messages")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        not_json = await http.post("/api/agents/assistant/messages", content=b"{nope")
        assert not_json.status_code == 400 and "JSON" in not_json.json()["error"]["message"]
        typo = await http.post("/api/agents/assistant/messages", json={"txt": "hi"})
        assert typo.status_code == 400
        assert "body.text" in typo.json()["error"]["message"]
        assert "body.txt" in typo.json()["error"]["message"]
        for query in ("limit=0", "limit=x"):
            url = f"/api/agents/assistant/sessions/main/messages?{query}"
            assert (await http.get(url)).status_code == 400
        for since in ("soon", "", "2026-13-01", "2026-02-30"):
            assert (await http.get("/api/usage", params={"since": since})).status_code == 400
        for since in ("2026-05-01", "2026-05-01t09:30:00z", "2016-12-31T23:59:60Z"):
            usage = await http.get("/api/usage", params={"since": since})  # RFC 3339 too
            assert usage.status_code == 200, (since, usage.text)
        edge = await http.get("/api/usage", params={"since": "0001-01-01T00:00:00+01:00"})
        assert edge.json()["since"] == "0001-01-01T00:00:00"
        no_route = await http.get("/api/nothing-here")
        assert no_route.status_code == 404 and no_route.json()["error"]["code"] == "not_found"
        wrong_method = await http.get("/api/agents/assistant/messages")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["error"]["code"] == "method_not_allowed"
        assert wrong_method.headers["allow"] == "POST"
        reset_only = await http.put("/api/agents/assistant/sessions/main")
        assert reset_only.status_code == 405 and reset_only.headers["allow"] == "DELETE"
        huge = await http.post("/api/agents/assistant/messages", content=b"x" * 1_100_000)
        assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"
        for timeout in ("-1", "0", "nan", "inf", "3601", "soon"):
            bad_timeout = await http.post(
                f"/api/agents/assistant/messages?timeout_s={timeout}", json={"text": "hi"}
            )
            assert bad_timeout.status_code == 400, timeout
            assert "query.timeout_s" in bad_timeout.json()["error"]["message"]

        fake_llm.delay(2)
        slow = await http.post(
            "/api/agents/assistant/messages?timeout_s=0.2", json={"text": "slow", "session": "t"}
        )
        assert slow.status_code == 504
        assert slow.json()["error"]["code"] == "timeout" and slow.json()["error"]["message_id"] > 0


async def test_healthz_needs_no_token(gateway: Gateway) -> None:
    async with gateway.http(token=None) as http:
        health = (await http.get("/healthz")).json()
    assert health["status"] == "ok" and health["uptime_s"] >= 0
    assert health["components"]["store"] == {"state": "ok"}
    assert health["components"]["gateway"]["state"] == "ok"
    assert health["components"]["gateway"]["url"] == gateway.http_url
    assert set(health["agents"]) == {"assistant", "coder"}


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


async def test_metrics_move_after_a_turn(gateway: Gateway, fake_llm: FakeLLM) -> None:
    turns = 'roost_turns_total{agent="assistant",status="ok"}'
    async with gateway.http() as http:
        before = await http.get("/metrics")
        assert before.headers["content-type"].startswith("text/plain")
        assert metric(before.text, turns) == 0
        assert metric(before.text, "roost_gateway_connections") == 0
        assert metric(before.text, "roost_uptime_seconds") >= 0
        fake_llm.reply("counted", usage=FakeUsage(300, 40, cache_read=50))
        await http.post("/api/agents/assistant/messages", json={"text": "count me"})
        fake_llm.fail(400, "nope")
        await http.post("/api/agents/assistant/messages", json={"text": "fail me"})
        after = (await http.get("/metrics")).text
    assert metric(after, turns) == 1
    assert metric(after, 'roost_turns_total{agent="assistant",status="error"}') == 1
    assert metric(after, 'roost_turn_errors_total{agent="assistant"}') == 1
    assert metric(after, 'roost_tokens_total{agent="assistant",kind="input"}') == 300
    assert metric(after, 'roost_tokens_total{agent="assistant",kind="output"}') == 40
    assert metric(after, 'roost_tokens_total{agent="assistant",kind="cache_read"}') == 50
    assert metric(after, 'roost_cost_usd_total{agent="assistant"}') > 0
    assert metric(after, 'roost_turn_duration_seconds_count{agent="assistant"}') == 2
    assert metric(after, 'roost_agent_queue_depth{agent="coder"}') == 0
    assert metric(after, 'roost_agent_busy_sessions{agent="assistant"}') == 0
    assert metric(after, "roost_router_in_flight") == 0


async def test_each_gateway_counts_in_a_registry_of_its_own(app: App) -> None:
    first, second = GatewayMetrics(app.ports, lambda: 0), GatewayMetrics(app.ports, lambda: 3)
    first.record_turn({"agent": "assistant", "status": "ok", "duration_ms": 1500, "cost_usd": 0.5})
    first.record_turn({"agent": "made-up", "status": "error", "duration_ms": 250})
    one, two = first.render()[0].decode(), second.render()[0].decode()
    ok = 'roost_turns_total{agent="assistant",status="ok"}'
    assert metric(one, ok) == 1 and metric(two, ok) == 0
    assert metric(one, 'roost_cost_usd_total{agent="assistant"}') == 0.5
    # Agents that are not configured share one label: a client cannot create series.
    assert metric(one, 'roost_turn_errors_total{agent="_unknown"}') == 1
    assert "made-up" not in one
    bucket = 'roost_turn_duration_seconds_bucket{{agent="assistant",le="{}"}}'
    assert metric(one, bucket.format("1.0")) == 0 and metric(one, bucket.format("2.5")) == 1
    assert metric(one, bucket.format("+Inf")) == 1
    assert metric(one, 'roost_turn_duration_seconds_bucket{agent="_unknown",le="0.25"}') == 1
    assert metric(two, "roost_gateway_connections") == 3


STARTUP = """
import sys
from roost.app import App
from roost.config.loader import load_settings
from roost.gateway.metrics import GatewayMetrics

app = App(load_settings())
metrics = GatewayMetrics(app.ports, lambda: 0)
print(sorted(name for name in ("prometheus_client", "genai_prices") if name in sys.modules))
metrics.render()
print("prometheus_client" in sys.modules)
"""


def test_start_up_loads_neither_metrics_nor_prices(settings: Settings, tmp_path: Path) -> None:
    command = [sys.executable, "-c", STARTUP]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "True"]


async def test_openapi_describes_every_route(gateway: Gateway) -> None:
    async with gateway.http(token=None) as http:
        document = (await http.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/api/agents",
        "/api/status",
        "/api/agents/{name}/messages",
        "/api/agents/{name}/sessions",
        "/api/agents/{name}/sessions/{key}/messages",
        "/api/agents/{name}/sessions/{key}",
        "/api/usage",
    }
    assert "post" in document["paths"]["/api/agents/{name}/messages"]
    assert "delete" in document["paths"]["/api/agents/{name}/sessions/{key}"]
    for path in document["paths"].values():
        for operation in path.values():
            for response in operation["responses"].values():
                ref = response.get("content", {}).get("application/json", {}).get("schema", {})
                if "$ref" in ref:
                    assert ref["$ref"].split("/")[-1] in document["components"]["schemas"]

"""Frames and bodies the server must refuse without dropping anything: deep nesting,
NaN and infinities (not JSON, yet Python's json reads and writes them)."""

from __future__ import annotations

import json
from typing import Any

from roost.gateway.protocol import MAX_JSON_DEPTH
from tests.gateway.conftest import Gateway
from tests.gateway.test_ws_methods import expect_error

DEEP = "[" * 200_000 + "]" * 200_000


def nested(depth: int) -> str:
    return '{"type":"req","id":"d","method":"health","params":{"x":' + (
        "[" * depth + "]" * depth + "}}"
    )


def strict(raw: str) -> Any:
    """Parse as a strict JSON reader would: NaN and infinities are errors."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(raw, parse_constant=refuse)


async def test_deep_nesting_is_a_bad_frame_and_the_connection_stays(gateway: Gateway) -> None:
    client = await gateway.client()
    message = await expect_error(client, DEEP, "bad_json", None)
    assert f"nested deeper than {MAX_JSON_DEPTH}" in message
    assert "nested" in await expect_error(client, nested(MAX_JSON_DEPTH), "bad_json", None)
    # Just inside the cap the frame is read (and its unknown param named).
    inside = await expect_error(client, nested(MAX_JSON_DEPTH - 2), "bad_request", "d")
    assert "params.x" in inside
    assert (await client.call("health"))["ok"]
    await client.close()


async def test_nan_and_infinity_are_refused_never_echoed(gateway: Gateway) -> None:
    client = await gateway.client()
    for constant in ("NaN", "Infinity", "-Infinity"):
        frame = '{"type":"req","id":' + constant + ',"method":"health"}'
        await client.send_raw(frame)
        raw = await client.ws.recv()
        assert isinstance(raw, str)
        response = strict(raw)  # what the server sent is valid JSON
        assert response["id"] is None and response["error"]["code"] == "bad_json", response
        assert constant.lstrip("-") in response["error"]["message"]
        params = '{"type":"req","id":1,"method":"sessions.history","params":{"limit":NaN}}'
        await expect_error(client, params, "bad_json", None)
    assert (await client.call("health"))["ok"]
    await client.close()


async def test_rest_bodies_deeply_nested_or_with_nan_are_400_bad_json(gateway: Gateway) -> None:
    url = "/api/agents/assistant/messages"
    headers = {"content-type": "application/json"}
    async with gateway.http() as http:
        for body in (DEEP, '{"text": "hi", "x": ' + "[" * 100 + "]" * 100 + "}"):
            response = await http.post(url, content=body, headers=headers)
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error["code"] == "bad_json" and "nested deeper" in error["message"]
        for body in ('{"text": NaN}', '{"text": "hi", "session": Infinity}'):
            response = await http.post(url, content=body, headers=headers)
            assert response.status_code == 400, response.text
            assert response.json()["error"]["code"] == "bad_json"

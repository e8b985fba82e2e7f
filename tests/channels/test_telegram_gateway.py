"""Telegram's webhook served by the gateway of the same `roost run` (as ``served_features``
lists them): the route is public (its own secret, no gateway token), the rest is not."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import httpx
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect

from roost.app import App
from roost.builtin_features import served_features
from roost.config.schema import GatewayConfig, TelegramWebhookConfig
from roost.config.settings import Settings
from roost.gateway.service import GatewayService
from tests.channels.conftest import OWNER, telegram_config, wait_sent
from tests.fakes.llm_server import FakeLLM
from tests.fakes.telegram import FakeTelegram


async def test_the_gateway_serves_telegrams_webhook_without_its_token(
    settings: Settings, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    hook = TelegramWebhookConfig(url="https://roost.example/tg", secret=SecretStr("s3cret"))
    configured = dataclasses.replace(
        settings,
        gateway=GatewayConfig(port=0, token=SecretStr("gateway-token")),
        telegram=telegram_config(fake, webhook=hook),
    )
    app = App(configured, served_features(configured))
    await app.start(recover=True)
    try:
        fake.send_text(OWNER, "through the gateway")
        [update] = fake.pending_updates
        url = app.feature(GatewayService).http_url
        async with httpx.AsyncClient(base_url=url) as client:
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
            answer = await client.post("/telegram/webhook", json=update, headers=headers)
            assert answer.status_code == 200
            assert (await client.get("/api/agents")).status_code == 401
        [sent] = await wait_sent(fake, 1)
        assert sent.visible_text == "echo: through the gateway"
        assert set(app.health()["components"]) == {
            "store",
            "providers",
            "warm_up",
            "gateway",
            "telegram",
            "scheduler",
            "openai_api",
        }
    finally:
        await app.stop(grace_s=1)


async def test_pairing_requests_are_listed_and_approved_over_the_websocket(
    settings: Settings, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    """What the control page's Telegram view uses: ``telegram.pairing.list|approve``."""
    stranger = 222
    configured = dataclasses.replace(
        settings,
        gateway=GatewayConfig(port=0, token=SecretStr("gateway-token")),
        telegram=telegram_config(fake),
    )
    app = App(configured, served_features(configured))
    await app.start(recover=True)
    try:
        fake.send_text(stranger, "let me in", username="bob")
        await wait_sent(fake, 1, stranger)
        url = app.feature(GatewayService).ws_url
        async with connect(url, additional_headers={"Authorization": "Bearer gateway-token"}) as ws:
            await ws.recv()  # hello
            listed = await _call(ws, "telegram.pairing.list")
            [pairing] = listed["result"]["pairings"]
            assert (pairing["user_id"], pairing["username"]) == (stranger, "bob")
            assert pairing["display_code"] == f"{pairing['code'][:4]}-{pairing['code'][4:]}"
            approved = await _call(ws, "telegram.pairing.approve", {"code": pairing["code"]})
            assert approved["result"]["pairing"]["user_id"] == stranger
            again = await _call(ws, "telegram.pairing.approve", {"code": pairing["code"]})
            assert again["error"]["code"] == "not_found"
            assert "no pairing code" in again["error"]["message"]
            assert (await _call(ws, "telegram.pairing.list"))["result"]["pairings"] == []
        notice = await wait_sent(fake, 2, stranger)
        assert "You have been approved" in notice[1].visible_text
        fake.send_text(stranger, "hello now")
        sent = await wait_sent(fake, 3, stranger)
        assert sent[2].visible_text == "echo: hello now"
    finally:
        await app.stop(grace_s=1)


async def _call(ws: ClientConnection, method: str, params: dict[str, Any] | None = None) -> Any:
    await ws.send(
        json.dumps({"type": "req", "id": method, "method": method, "params": params or {}})
    )
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["type"] == "res":
            return frame

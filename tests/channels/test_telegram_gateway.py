"""Telegram's webhook served by the gateway of the same `roost run` (as ``served_features``
lists them): the route is public (its own secret, no gateway token), the rest is not."""

from __future__ import annotations

import dataclasses

import httpx
from pydantic import SecretStr

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

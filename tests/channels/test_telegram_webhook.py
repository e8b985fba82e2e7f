"""Webhook mode's gate: the secret (config and header), malformed bodies, duplicates by id."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from roost.config.errors import ConfigError
from roost.config.loader import load_settings
from roost.config.schema import TelegramWebhookConfig
from roost.store.state import StateStore
from tests.channels.conftest import OWNER, Roost, RoostFactory, settle, texts, wait_sent
from tests.conftest import ConfigWriter
from tests.fakes.llm_server import FakeLLM
from tests.fakes.telegram import FakeTelegram

SECRET = "s3cret_-OK"
HEADERS_KEY = "X-Telegram-Bot-Api-Secret-Token"
HEADERS = {HEADERS_KEY: SECRET}
PATH = "/telegram/webhook"
CONFIG = """\
telegram:
  token: "123:abc"
  webhook: {{url: "https://roost.example/tg", secret: {secret}}}
"""


def _config_error(write_config: ConfigWriter, secret: str, env: dict[str, str]) -> str:
    path: Path = write_config(CONFIG.format(secret=secret))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env=env)
    return str(caught.value)


@pytest.mark.parametrize(
    ("secret", "env", "expected"),
    [
        ('"${TELEGRAM_WEBHOOK_SECRET}"', {"TELEGRAM_WEBHOOK_SECRET": ""}, "is empty"),
        ('""', {}, "is empty"),
        ('"hunter2 with spaces!"', {}, "has 20 characters and others than those"),
        ('"' + "a" * 257 + '"', {}, "has 257 characters"),
    ],
)
def test_an_unusable_webhook_secret_is_refused_without_echoing_it(
    write_config: ConfigWriter, secret: str, env: dict[str, str], expected: str
) -> None:
    message = _config_error(write_config, secret, env)
    assert "telegram.webhook.secret:" in message and expected in message
    assert "hunter2" not in message and "a" * 257 not in message


def test_a_good_webhook_secret_loads(write_config: ConfigWriter) -> None:
    path = write_config(CONFIG.format(secret='"${S}"'))
    telegram = load_settings(path, env={"S": "a" * 256}).telegram
    assert telegram is not None and telegram.webhook is not None


def _client(running: Roost) -> httpx.AsyncClient:
    [served] = running.service.http_routes()
    route = served.route
    assert served.public
    transport = httpx.ASGITransport(app=Starlette(routes=[route]))
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


async def _webhook_roost(start_roost: RoostFactory, secret: str = SECRET) -> Roost:
    # model_construct: the config check is bypassed, to show the receiver holds on its own.
    hook = TelegramWebhookConfig.model_construct(
        url="https://roost.example/tg", secret=SecretStr(secret), path=PATH
    )
    return await start_roost(webhook=hook)


def _update(fake: FakeTelegram, text: str) -> dict[str, object]:
    fake.send_text(OWNER, text)
    return fake.pending_updates[-1]


@pytest.mark.parametrize("secret", ["", SECRET])
async def test_a_call_without_the_secret_header_is_refused_whatever_the_config(
    start_roost: RoostFactory,
    fake: FakeTelegram,
    fake_llm: FakeLLM,
    secret: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    running = await _webhook_roost(start_roost, secret)
    forged = _update(fake, "forged: transfer everything")
    async with _client(running) as client:
        missing = await client.post(PATH, json=forged)
        empty = await client.post(PATH, json=forged, headers={HEADERS_KEY: ""})
    assert (missing.status_code, empty.status_code) == (403, 403)
    await settle(running)
    assert not fake.sent and not fake_llm.requests
    refusals = [r.getMessage() for r in caplog.records if "refused (403)" in r.getMessage()]
    assert len(refusals) == 2 and "no X-Telegram-Bot-Api-Secret-Token header" in refusals[0]
    if secret:
        assert all(secret not in line for line in refusals)


async def test_authenticated_but_malformed_bodies_get_400_or_413(
    start_roost: RoostFactory,
    fake: FakeTelegram,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    running = await _webhook_roost(start_roost)
    bodies = {
        b"{not json": 400,
        b"[1, 2]": 400,
        b'{"update_id": "7"}': 400,
        json.dumps({"update_id": 7, "message": "not a message"}).encode(): 400,
        json.dumps({"update_id": 8, "message": {"chat": 5}}).encode(): 400,
        b'{"update_id": 9, "x": "' + b"y" * 1_100_000 + b'"}': 413,
    }
    async with _client(running) as client:
        for body, status in bodies.items():
            answer = await client.post(PATH, content=body, headers=HEADERS)
            assert answer.status_code == status, body[:60]

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: streamed
            for _ in range(20):
                yield b"x" * 65_536

        streamed = await client.post(PATH, content=chunks(), headers=HEADERS)
        assert streamed.status_code == 413
        good = await client.post(PATH, json=_update(fake, "still fine"), headers=HEADERS)
        assert good.status_code == 200
    assert (await wait_sent(fake, 1))[0].visible_text == "echo: still fine"
    refusals = [r.getMessage() for r in caplog.records if "webhook call from" in r.getMessage()]
    assert len(refusals) == len(bodies) + 1
    assert all(SECRET not in line for line in refusals)


async def test_webhook_updates_are_deduplicated_by_id_not_by_offset(
    start_roost: RoostFactory,
    fake: FakeTelegram,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    running = await _webhook_roost(start_roost)
    later = _update(fake, "the later id")
    earlier = dict(_update(fake, "a lower id"))
    # Telegram picks ids at random again after a quiet week: a new update may be lower.
    earlier["update_id"] = int(str(later["update_id"])) - 50
    async with _client(running) as client:
        assert (await client.post(PATH, json=later, headers=HEADERS)).status_code == 200
        assert (await client.post(PATH, json=earlier, headers=HEADERS)).status_code == 200
        # The 200 got lost: Telegram sends the same update again.
        assert (await client.post(PATH, json=earlier, headers=HEADERS)).status_code == 200
    await wait_sent(fake, 2)
    await settle(running)
    assert sorted(texts(fake)) == ["echo: a lower id", "echo: the later id"]
    assert len(fake_llm.requests) == 2
    dropped = [r.getMessage() for r in caplog.records if "dropped update" in r.getMessage()]
    assert dropped == [
        f"telegram: dropped update {earlier['update_id']} (webhook) of bot "
        f"{fake.token.split(':')[0]}: handled already"
    ]
    saved = await StateStore(running.app.db).get("telegram:offset:" + fake.token.split(":")[0])
    assert saved["offset"] == earlier["update_id"] + 1
    assert fake.token not in json.dumps(saved)

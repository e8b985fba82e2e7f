"""Never lose, never repeat: the saved offset, duplicates, restarts mid-turn; supervision
of polling (errors, stalls, Telegram unreachable); webhook mode; the token kept secret."""

from __future__ import annotations

import asyncio
import logging
import socket

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Route

from roost.app import StartupError
from roost.channels.telegram.updates import KEY_PREFIX, LEGACY_KEY, UpdateLog, bot_id_of
from roost.config.schema import TelegramWebhookConfig
from roost.store.state import StateStore
from tests.channels.conftest import OWNER, Roost, RoostFactory, settle, texts, wait_sent
from tests.fakes.llm_server import FakeLLM
from tests.fakes.telegram import FakeTelegram, running_fake_telegram


async def test_the_offset_is_saved_so_a_restart_handles_nothing_twice(
    start_roost: RoostFactory, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    first = await start_roost()
    last = 0
    for word in ("one", "two", "three"):
        last = fake.send_text(OWNER, word)
    await wait_sent(fake, 3)
    store = StateStore(first.app.db)

    async def saved(offset: int) -> bool:
        found = await store.get(KEY_PREFIX + bot_id_of(fake.token))
        return bool(found["offset"] == offset)

    assert await saved(last + 1)
    command = fake.send_text(OWNER, "/help")
    await wait_sent(fake, 4)
    await fake.wait_until_async(lambda: fake.updates_confirmed > command)
    assert await saved(command + 1)
    last = command
    await first.stop()
    second = await start_roost()
    await fake.wait_until_async(lambda: len(fake.calls_to("getUpdates")) >= 2)
    assert fake.calls_to("getUpdates")[-1].params.get("offset") in (last + 1, str(last + 1))
    fake.send_text(OWNER, "four")
    await wait_sent(fake, 5)
    await settle(second, fake)
    assert texts(fake)[:3] == ["echo: one", "echo: two", "echo: three"]
    assert texts(fake)[4:] == ["echo: four"]
    assert len(fake_llm.requests) == 4


async def test_an_update_seen_again_is_not_run_again(
    start_roost: RoostFactory, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    # What a crash between accepting a message and saving the offset looks like: the
    # same message arrives in a second update.
    roost = await start_roost()
    fake.send_text(OWNER, "only once")
    await wait_sent(fake, 1)
    [original] = [m for m in fake.messages.values() if m.get("text") == "only once"]
    fake.send_update({"message": original})
    fake.send_text(OWNER, "next")
    await wait_sent(fake, 2)
    await settle(roost, fake)
    assert texts(fake) == ["echo: only once", "echo: next"]
    assert len(fake_llm.requests) == 2


async def test_stopping_while_a_command_is_handled_answers_it_once(
    start_roost: RoostFactory, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The answer is out but the offset not yet saved when the stop comes: stopping waits
    # for the save, so the command is not answered again after the restart.
    first = await start_roost()
    original_set = StateStore.set

    async def slow_set(self: StateStore, key: str, value: object) -> None:
        if key.startswith(KEY_PREFIX):
            await asyncio.sleep(0.3)
        await original_set(self, key, value)

    monkeypatch.setattr(StateStore, "set", slow_set)
    fake.send_text(OWNER, "/help")
    await wait_sent(fake, 1)
    await first.stop()
    monkeypatch.setattr(StateStore, "set", original_set)
    second = await start_roost()
    fake.send_text(OWNER, "after the restart")
    await wait_sent(fake, 2)
    await settle(second, fake)
    assert texts(fake)[1:] == ["echo: after the restart"]


async def test_a_restart_in_the_middle_of_a_turn_loses_and_repeats_nothing(
    start_roost: RoostFactory, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    first = await start_roost()
    fake_llm.delay(3)
    update = fake.send_text(OWNER, "a slow question")
    await fake.wait_until_async(lambda: len(fake_llm.requests) == 1)
    await fake.wait_until_async(lambda: fake.updates_confirmed > update)
    await first.stop(grace_s=0)
    assert not fake.sent
    second = await start_roost()
    [reply] = await wait_sent(fake, 1)
    assert reply.visible_text == "echo: a slow question"
    await settle(second, fake)
    assert len(fake.sent) == 1 and len(fake_llm.requests) == 2


async def test_a_message_arriving_while_stopping_waits_for_the_next_start(
    start_roost: RoostFactory, fake: FakeTelegram
) -> None:
    first = await start_roost()
    first.app.router.close()  # what App.stop does first
    update = fake.send_text(OWNER, "during shutdown")
    await fake.wait_until_async(lambda: first.service.health()["state"] == "stopped")
    await settle(first)  # polling has stopped: the update stays unconfirmed
    assert fake.updates_confirmed <= update and not fake.sent
    await first.stop()
    await start_roost()
    assert (await wait_sent(fake, 1))[0].visible_text == "echo: during shutdown"


async def test_polling_survives_errors_and_stalls(
    start_roost: RoostFactory, fake: FakeTelegram
) -> None:
    running = await start_roost(poll_timeout_s=1)
    running.service.poller.stall_margin_s = 0.2
    fake.fail_next("getUpdates", 502)
    fake.fail_next("getUpdates", 429, retry_after=0.2)
    fake.send_text(OWNER, "through errors")
    assert (await wait_sent(fake, 1))[0].visible_text == "echo: through errors"
    assert [c.status for c in fake.calls_to("getUpdates")][:2] == [502, 429]
    fake.stall_polling(2.5)
    await fake.wait_until_async(lambda: running.service.health()["state"] == "degraded", 5)
    assert "did not return" in running.service.health()["last_error"]
    assert running.app.health()["components"]["telegram"]["state"] == "degraded"
    fake.send_text(OWNER, "after the stall")
    assert (await wait_sent(fake, 2, within=8))[1].visible_text == "echo: after the stall"
    assert running.service.health()["state"] == "ok"
    assert "last_poll_at" in running.service.health()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_roost_starts_while_telegram_is_unreachable(
    start_roost: RoostFactory, fake: FakeTelegram
) -> None:
    port = _free_port()
    running = await start_roost(api_base_url=f"http://127.0.0.1:{port}")
    assert running.service.health()["state"] == "degraded"
    result = await running.app.ask("assistant", "still working?", "local")
    assert result.text == "echo: still working?"
    with running_fake_telegram(fake.token, port=port) as late:
        late.send_text(OWNER, "finally")
        [reply] = await late.wait_for_sent_async(1, timeout=8)
        assert reply.visible_text == "echo: finally"
        assert running.service.health()["state"] == "ok"
        await running.stop()


async def test_a_wrong_token_stops_the_start_naming_the_key(
    start_roost: RoostFactory, fake: FakeTelegram
) -> None:
    with pytest.raises(StartupError, match=r"telegram\.token: Telegram refused the token"):
        await start_roost(token=SecretStr("999:WRONG"))


async def test_the_token_never_reaches_the_log(
    start_roost: RoostFactory, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await start_roost()
    fake.fail_next("getUpdates", 500)
    fake.send_text(OWNER, "hi")
    await wait_sent(fake, 1)
    assert "getUpdates" in caplog.text  # the HTTP client did log the URLs…
    assert fake.token not in caplog.text  # …without the token
    assert fake.token.split(":")[1] not in caplog.text


async def test_webhook_mode_checks_the_secret_and_handles_each_update_once(
    start_roost: RoostFactory, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    hook = TelegramWebhookConfig(url="https://roost.example/tg", secret=SecretStr("s3cret"))
    running = await start_roost(webhook=hook)
    [call] = fake.calls_to("setWebhook")
    assert call.params["secret_token"] == "s3cret" and fake.webhook_url == hook.url
    [served] = running.service.http_routes()
    route = served.route
    assert served.public and isinstance(route, Route) and route.path == "/telegram/webhook"
    fake.send_text(OWNER, "via webhook")
    [update] = fake.pending_updates
    transport = httpx.ASGITransport(app=Starlette(routes=[route]))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        wrong = await client.post(
            route.path, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "x"}
        )
        assert wrong.status_code == 403
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
        for _ in range(2):  # Telegram re-sends when unsure
            answer = await client.post(route.path, json=update, headers=headers)
            assert answer.status_code == 200
    assert (await wait_sent(fake, 1))[0].visible_text == "echo: via webhook"
    await settle(running)
    assert len(fake_llm.requests) == 1 and not fake.calls_to("getUpdates")


async def test_a_token_changed_to_another_bot_gets_that_bots_messages(
    start_roost: RoostFactory, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    # The first bot's saved offset is above the new bot's update ids; sent to the new
    # bot's getUpdates it would confirm (drop) them all.
    first = await start_roost()
    for word in ("one", "two", "three"):
        fake.send_text(OWNER, word)
    await wait_sent(fake, 3)
    await first.stop()
    with running_fake_telegram("987654:AnotherBotsToken0000000000") as other:
        second = await start_roost(token=SecretStr(other.token), api_base_url=other.url)
        try:
            for word in ("four", "five", "six"):
                other.send_text(OWNER, word)
            sent = await other.wait_for_sent_async(3, timeout=10)
            assert [m.visible_text for m in sent] == ["echo: four", "echo: five", "echo: six"]
            assert other.calls_to("getUpdates")[0].params.get("offset") is None
        finally:
            await second.stop()


async def test_an_update_polled_again_with_the_same_id_is_dropped_and_logged(
    start_roost: RoostFactory, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    # A command has no message key to deduplicate it: only the update's id can.
    caplog.set_level(logging.INFO)
    roost = await start_roost()
    update_id = fake.send_text(OWNER, "/help")
    [update] = fake.pending_updates
    await wait_sent(fake, 1)
    await fake.wait_until_async(lambda: fake.updates_confirmed > update_id)
    with fake.lock:  # what a server that re-sends an update looks like
        fake.pending.append(update)
    fake.changed()
    fake.send_text(OWNER, "next")
    await wait_sent(fake, 2)
    await settle(roost, fake)
    assert len(texts(fake)) == 2 and texts(fake)[1] == "echo: next"
    assert f"dropped update {update_id} (polling)" in caplog.text


def test_the_saved_offset_is_keyed_by_the_bot_id_never_the_token() -> None:
    assert bot_id_of("123456:AAsecret") == "123456"
    assert bot_id_of("no-colon-at-all") == "unknown"
    assert bot_id_of("abc:def") == "unknown"


async def test_an_offset_saved_before_offsets_were_per_bot_only_seeds_the_memory(
    roost: Roost, fake: FakeTelegram
) -> None:
    # Its bot is unknown: sent to getUpdates it could drop another bot's updates, so it
    # only marks the update it points past as seen.
    await fake.wait_until_async(lambda: bool(fake.calls_to("getUpdates")))  # loaded its own
    store = StateStore(roost.app.db)
    await store.set(LEGACY_KEY, 500)
    updates = UpdateLog(store, "42")
    await updates.load()
    assert updates.offset is None and updates.seen(499) and not updates.seen(500)
    assert await store.get(LEGACY_KEY) is None
    await updates.handled(7)
    again = UpdateLog(store, "42")
    await again.load()
    assert again.offset == 8 and again.seen(7) and again.seen(499)


async def test_an_offset_older_than_a_quiet_week_is_not_sent_to_telegram(
    roost: Roost, fake: FakeTelegram
) -> None:
    # After a week without updates Telegram picks ids at random again: a new update with
    # an id below the old offset would count as confirmed, i.e. be lost.
    await fake.wait_until_async(lambda: bool(fake.calls_to("getUpdates")))
    store = StateStore(roost.app.db)
    clock = [1_000_000.0]
    updates = UpdateLog(store, "43", now=lambda: clock[0])
    await updates.load()
    await updates.handled(900)
    clock[0] += 5 * 86_400  # five quiet days: the offset still holds
    recent = UpdateLog(store, "43", now=lambda: clock[0])
    await recent.load()
    assert recent.offset == 901
    clock[0] += 2 * 86_400  # seven: ids may have restarted
    stale = UpdateLog(store, "43", now=lambda: clock[0])
    await stale.load()
    assert stale.offset is None and stale.seen(900)

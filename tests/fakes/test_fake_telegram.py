"""The fake Telegram Bot API, exercised through python-telegram-bot itself (and raw HTTP
where the wire shape is the point)."""

from __future__ import annotations

import asyncio
import datetime as dtm
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import telegram
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter

from tests.fakes.telegram import (
    DEFAULT_BOT_USERNAME,
    FakeTelegram,
    HtmlParseError,
    parse_html,
    running_fake_telegram,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeTelegram]:
    with running_fake_telegram() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeTelegram) -> Iterator[FakeTelegram]:
    fake_server.reset()
    yield fake_server
    fake_server.reset()


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(
        fake.token, base_url=fake.bot_base_url, base_file_url=fake.file_base_url
    ) as client:
        yield client


@pytest.fixture
async def http(fake: FakeTelegram) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.url) as client:
        yield client


# ----- identity and routing -------------------------------------------------------------


async def test_get_me_on_initialize(bot: telegram.Bot, fake: FakeTelegram) -> None:
    assert bot.username == DEFAULT_BOT_USERNAME
    assert bot.id == fake.bot_id == int(fake.token.split(":")[0])
    assert (await bot.get_me()).is_bot
    assert [call.method for call in fake.calls] == ["getMe", "getMe"]
    assert all(call.status == 200 for call in fake.calls)


async def test_wrong_token_is_unauthorized(fake: FakeTelegram) -> None:
    wrong = telegram.Bot("999:WRONG", base_url=fake.bot_base_url)
    with pytest.raises(InvalidToken):
        await wrong.initialize()
    assert (fake.calls[-1].status, fake.calls[-1].description) == (401, "Unauthorized")


async def test_error_and_unknown_method_wire_shapes(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    unknown = await http.post(f"/bot{fake.token}/sendHologram", json={"chat_id": 1})
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    unauthorized = await http.get("/bot1:nope/getMe")
    assert unauthorized.status_code == 401
    assert unauthorized.json()["description"] == "Unauthorized"


async def test_params_from_query_json_and_form(fake: FakeTelegram, http: httpx.AsyncClient) -> None:
    by_query = await http.get(f"/bot{fake.token}/sendMessage", params={"chat_id": 5, "text": "q"})
    by_json = await http.post(f"/bot{fake.token}/sendMessage", json={"chat_id": 5, "text": "j"})
    by_form = await http.post(f"/bot{fake.token}/SENDMESSAGE", data={"chat_id": "5", "text": "f"})
    for response in (by_query, by_json, by_form):
        assert response.status_code == 200
        assert response.json()["ok"] is True
    assert [m.visible_text for m in fake.sent] == ["q", "j", "f"]
    assert [m.message_id for m in fake.sent] == [1, 2, 3]
    assert fake.calls[0].params == {"chat_id": "5", "text": "q"}


# ----- getUpdates -----------------------------------------------------------------------


async def test_text_update_is_realistic(bot: telegram.Bot, fake: FakeTelegram) -> None:
    update_id = fake.send_text(42, "/start@roost_test_bot hi 😀 @roost_test_bot")
    [update] = await bot.get_updates()
    message = update.message
    assert update.update_id == update_id
    assert message is not None and message.from_user is not None
    assert message.chat.id == message.from_user.id == 42
    assert message.chat.type == "private"
    assert message.text == "/start@roost_test_bot hi 😀 @roost_test_bot"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bot_command", 0, 21),
        ("mention", 28, 15),  # UTF-16 offset: the emoji counts twice
    ]
    assert message.parse_entity(message.entities[1]) == "@roost_test_bot"


async def test_group_message_in_a_topic_replying_to_the_bot(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    fake.send_text(-1001, "thanks", chat_type="supergroup", message_thread_id=9, reply_to_bot=True)
    [update] = await bot.get_updates()
    message = update.message
    assert message is not None and message.from_user is not None
    assert message.chat.type == "supergroup" and message.chat.is_forum
    assert message.from_user.id != message.chat.id
    assert message.message_thread_id == 9 and message.is_topic_message
    replied = message.reply_to_message
    assert replied is not None and replied.from_user is not None
    assert replied.from_user.id == bot.id
    assert replied.message_id < message.message_id


async def test_offset_confirms_and_drops_updates(bot: telegram.Bot, fake: FakeTelegram) -> None:
    first = fake.send_text(1, "one")
    second = fake.send_text(1, "two")
    assert [u.update_id for u in await bot.get_updates()] == [first, second]
    assert [u.update_id for u in await bot.get_updates()] == [first, second], "unconfirmed"
    assert [u.update_id for u in await bot.get_updates(offset=second)] == [second]
    assert fake.updates_confirmed == second
    assert await bot.get_updates(offset=second + 1) == ()
    assert fake.updates_confirmed == second + 1
    assert fake.pending_updates == []


async def test_limit_and_negative_offset(bot: telegram.Bot, fake: FakeTelegram) -> None:
    ids = [fake.send_text(1, f"m{n}") for n in range(5)]
    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    assert [u.update_id for u in await bot.get_updates(offset=-2)] == ids[3:]
    assert [u["update_id"] for u in fake.pending_updates] == ids[3:]


async def test_allowed_updates_filters_types(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.send_text(1, "ignored")
    wanted = fake.send_callback_query(1, "button-1")
    [update] = await bot.get_updates(allowed_updates=["callback_query"])
    assert update.update_id == wanted
    assert update.callback_query is not None and update.callback_query.data == "button-1"
    assert await bot.answer_callback_query(update.callback_query.id) is True


async def test_long_poll_wakes_when_a_thread_injects(bot: telegram.Bot, fake: FakeTelegram) -> None:
    injector = threading.Timer(0.2, fake.send_text, args=(7, "wake up"))
    started = time.monotonic()
    injector.start()
    updates = await bot.get_updates(timeout=10)
    elapsed = time.monotonic() - started
    assert [u.message.text for u in updates if u.message] == ["wake up"]
    assert 0.15 < elapsed < 2.0


async def test_long_poll_times_out_empty(bot: telegram.Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=0.3) == ()
    assert 0.25 < time.monotonic() - started < 2.0


async def test_newer_poll_terminates_the_older_one(bot: telegram.Bot, fake: FakeTelegram) -> None:
    # A second bot instance, as when two copies of the product run with one token.
    async with telegram.Bot(fake.token, base_url=fake.bot_base_url) as other:
        older = asyncio.create_task(bot.get_updates(timeout=10))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        newer = asyncio.create_task(other.get_updates(timeout=0.2))
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await older
        assert time.monotonic() - started < 1.0
        assert await newer == ()


async def test_stalled_polling_hangs_until_released(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.send_text(1, "stuck")
    fake.stall_polling(30)
    poll = asyncio.create_task(bot.get_updates(timeout=0))
    await asyncio.sleep(0.3)
    assert not poll.done()
    fake.stall_polling(0)
    updates = await asyncio.wait_for(poll, 2)
    assert [u.message.text for u in updates if u.message] == ["stuck"]


async def test_webhook_blocks_polling(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.send_text(1, "pending")
    assert await bot.set_webhook("https://example.org/hook")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook(drop_pending_updates=True)
    info = await bot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0
    assert await bot.get_updates() == ()


# ----- sending --------------------------------------------------------------------------


async def test_send_valid_html(bot: telegram.Bot, fake: FakeTelegram) -> None:
    html = '<b>Bold</b> &amp; <i>it</i> <a href="https://e.com/?a=1&amp;b=2">link</a>\n'
    html += '<pre><code class="language-py">x &lt; 1</code></pre>'
    message = await bot.send_message(42, html, parse_mode="HTML")
    assert message.text == "Bold & it link\nx < 1"
    assert message.from_user is not None and message.from_user.id == bot.id
    types = [(e.type, e.offset, e.length, e.url, e.language) for e in message.entities]
    assert types == [
        ("bold", 0, 4, None, None),
        ("italic", 7, 2, None, None),
        ("text_link", 10, 4, "https://e.com/?a=1&b=2", None),
        ("pre", 15, 5, None, "py"),
    ]
    [sent] = fake.sent
    assert (sent.method, sent.chat_id, sent.text, sent.parse_mode) == (
        "sendMessage",
        42,
        html,
        "HTML",
    )
    assert sent.visible_text == message.text and sent.message_id == message.message_id


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<b>unclosed", 'find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'expected "</i>", found "</b>"'),
        ("<div>x</div>", 'unsupported start tag "div"'),
        ("a < b", 'unsupported start tag ""'),
        ("x</b>", "unexpected end tag"),
        ('<span class="x">s</span>', 'tag "span" must have class "tg-spoiler"'),
        ('<a href=x"y>x</a>', "unexpected end of name token"),
        ("<b", "unclosed start tag"),
    ],
)
async def test_invalid_html_is_rejected(
    bot: telegram.Bot, fake: FakeTelegram, html: str, reason: str
) -> None:
    with pytest.raises(BadRequest, match="parse entities") as raised:
        await bot.send_message(42, html, parse_mode="HTML")
    assert reason in str(raised.value).lower()
    assert fake.sent == []
    assert fake.calls[-1].status == 400


async def test_reject_html_next_then_plain_text_goes_through(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    fake.reject_html_next()
    with pytest.raises(BadRequest, match="parse entities"):
        await bot.send_message(42, "<b>fine</b>", parse_mode="HTML")
    await bot.send_message(42, "**fine**")
    await bot.send_message(42, "<b>fine</b>", parse_mode="HTML")
    assert [(m.text, m.parse_mode) for m in fake.sent] == [
        ("**fine**", None),
        ("<b>fine</b>", "HTML"),
    ]


async def test_too_long_counts_text_after_parsing(bot: telegram.Bot, fake: FakeTelegram) -> None:
    await bot.send_message(1, "x" * 4096)
    await bot.send_message(1, "<b>" + "y" * 4000 + "</b>" + "&amp;" * 96, parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(1, "x" * 4097)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(1, "&lt;" * 4097, parse_mode="HTML")
    assert [len(m.visible_text) for m in fake.sent] == [4096, 4096]


@pytest.mark.parametrize("text", ["", "   \n ", "<b> </b>"])
async def test_empty_text_is_rejected(bot: telegram.Bot, text: str) -> None:
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(1, text, parse_mode="HTML")


async def test_reply_and_thread_are_recorded(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.send_text(-100, "question", chat_type="supergroup", message_thread_id=3)
    [update] = await bot.get_updates()
    assert update.message is not None
    reply = await update.message.reply_text("answer", do_quote=True)
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == update.message.message_id
    [sent] = fake.sent
    assert (sent.chat_id, sent.message_thread_id) == (-100, 3)
    assert sent.reply_to_message_id == update.message.message_id
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(-100, "x", reply_to_message_id=999)


async def test_edit_message_text(bot: telegram.Bot, fake: FakeTelegram) -> None:
    message = await bot.send_message(5, "draft")
    edited = await bot.edit_message_text("<b>final</b>", 5, message.message_id, parse_mode="HTML")
    assert isinstance(edited, telegram.Message)
    assert edited.text == "final" and edited.edit_date is not None
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("<b>final</b>", 5, message.message_id, parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", 5, 12345)
    user_message_id = (
        fake.send_text(5, "mine") and fake.pending_updates[-1]["message"]["message_id"]
    )
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("hacked", 5, user_message_id)
    assert [(m.method, m.message_id, m.visible_text) for m in fake.sent] == [
        ("sendMessage", message.message_id, "draft"),
        ("editMessageText", message.message_id, "final"),
    ]


# ----- faults ---------------------------------------------------------------------------


async def test_429_raises_retry_after(
    bot: telegram.Bot, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # retry_after as a timedelta, without a warning
    fake.fail_next("sendMessage", 429, retry_after=0.05, times=2)
    for _ in range(2):
        with pytest.raises(RetryAfter) as raised:
            await bot.send_message(1, "hi")
        assert raised.value.retry_after == dtm.timedelta(seconds=0.05)
    await bot.send_message(1, "hi")
    assert [call.status for call in fake.calls_to("sendMessage")] == [429, 429, 200]
    assert [m.visible_text for m in fake.sent] == ["hi"]


async def test_429_wire_shape(fake: FakeTelegram, http: httpx.AsyncClient) -> None:
    fake.fail_next("getMe", 429, retry_after=3)
    response = await http.post(f"/bot{fake.token}/getMe")
    assert response.status_code == 429
    assert response.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }


async def test_500_raises_network_error(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", 500)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(1, "hi")
    assert fake.sent == []


async def test_wildcard_fault_and_custom_403(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.fail_next("*", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(telegram.error.Forbidden, match="blocked"):
        await bot.send_chat_action(1, "typing")
    assert await bot.send_chat_action(1, "typing")


# ----- other methods --------------------------------------------------------------------


async def test_chat_actions_commands_and_chat(bot: telegram.Bot, fake: FakeTelegram) -> None:
    await bot.send_chat_action(8, "typing", message_thread_id=2)
    with pytest.raises(BadRequest, match=r"(?i)wrong parameter action"):
        await bot.send_chat_action(8, "dancing")
    assert [(a.chat_id, a.action, a.message_thread_id) for a in fake.chat_actions] == [
        (8, "typing", 2)
    ]
    await bot.set_my_commands([("new", "Start over"), ("cost", "What it cost")])
    assert fake.commands == [
        {"command": "new", "description": "Start over"},
        {"command": "cost", "description": "What it cost"},
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["new", "cost"]
    with pytest.raises(BadRequest):
        await bot.set_my_commands([("Bad-Name", "x")])
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.get_chat(8)
    fake.send_text(8, "hello", username="bob")
    chat = await bot.get_chat(8)
    assert (chat.id, chat.type, chat.username) == (8, "private", "bob")


async def test_document_download(bot: telegram.Bot, fake: FakeTelegram) -> None:
    content = bytes(range(256)) * 4
    fake.send_document(3, "notes.bin", content, caption="see @roost_test_bot")
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.document is not None
    document = update.message.document
    assert (document.file_name, document.file_size) == ("notes.bin", len(content))
    assert update.message.caption_entities[0].type == "mention"
    file = await document.get_file()
    assert file.file_path is not None and file.file_path.startswith(fake.file_base_url)
    assert bytes(await file.download_as_bytearray()) == content
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await bot.get_file("nope")


async def test_photo_sticker_voice_and_edit_updates(
    bot: telegram.Bot, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # durations as timedeltas, without a warning
    fake.send_photo(4, content=b"picture-bytes", caption="look")
    fake.send_sticker(4, emoji="🦉")
    fake.send_voice(4, content=b"OggS-voice", duration=5)
    fake.send_edited_text(4, 1, "fixed typo")
    photo, sticker, voice, edit = await bot.get_updates()
    assert photo.message is not None and photo.message.caption == "look"
    largest = photo.message.photo[-1]
    assert bytes(await (await largest.get_file()).download_as_bytearray()) == b"picture-bytes"
    assert sticker.message is not None and sticker.message.sticker is not None
    assert sticker.message.sticker.emoji == "🦉"
    assert voice.message is not None and voice.message.voice is not None
    assert voice.message.voice.duration == dtm.timedelta(seconds=5)
    assert edit.edited_message is not None and edit.edited_message.text == "fixed typo"
    assert edit.edited_message.message_id == 1


async def test_file_route_checks_token_and_path(
    fake: FakeTelegram, http: httpx.AsyncClient
) -> None:
    fake.send_document(3, "a.txt", b"abc")
    path = next(iter(fake.files.values())).file_path
    assert (await http.get(f"/file/bot{fake.token}/{path}")).content == b"abc"
    assert (await http.get(f"/file/bot1:bad/{path}")).status_code == 401
    assert (await http.get(f"/file/bot{fake.token}/documents/missing")).status_code == 404


# ----- test-side helpers ----------------------------------------------------------------


async def test_wait_for_sent_async_does_not_block_the_loop(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    async def send_later() -> None:
        await asyncio.sleep(0.1)
        await bot.send_message(1, "later")

    task = asyncio.create_task(send_later())
    [sent] = await fake.wait_for_sent_async(1, timeout=3)
    await task
    assert sent.visible_text == "later"
    with pytest.raises(TimeoutError):
        await fake.wait_for_sent_async(2, timeout=0.1)


def test_wait_for_sent_from_a_sync_test(fake: FakeTelegram) -> None:
    def send() -> None:
        time.sleep(0.1)
        httpx.post(f"{fake.bot_base_url}{fake.token}/sendMessage", json={"chat_id": 1, "text": "s"})

    threading.Thread(target=send).start()
    [sent] = fake.wait_for_sent(1, timeout=3)
    assert sent.text == "s" and sent.at <= time.monotonic()


def test_reset_forgets_everything_but_update_ids(fake: FakeTelegram) -> None:
    first = fake.send_text(1, "a")
    fake.fail_next("getMe", 500)
    fake.reset()
    assert fake.pending_updates == [] and fake.calls == [] and fake.sent == []
    assert httpx.get(f"{fake.bot_base_url}{fake.token}/getMe").status_code == 200
    assert fake.send_text(1, "b") > first


def test_standalone_server_prints_its_url() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.telegram", "--port", "0", "--token", "77:CLI"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        me = httpx.get(f"{url}/bot77:CLI/getMe").json()
        assert me["ok"] is True and me["result"]["id"] == 77
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


# ----- the HTML parser on its own -------------------------------------------------------


def test_parser_decodes_entities_and_counts_utf16() -> None:
    parsed = parse_html("😀 <b>&lt;b&gt; &#65;&#x42; &quot; &unknown; a & b</b>")
    assert parsed.text == '😀 <b> AB " &unknown; a & b'
    assert parsed.entities == [{"type": "bold", "offset": 3, "length": 24}]


def test_parser_error_mentions_byte_offset() -> None:
    with pytest.raises(HtmlParseError) as raised:
        parse_html("é<x>")
    assert str(raised.value) == 'Unsupported start tag "x" at byte offset 2'
    assert raised.value.description.startswith("Bad Request: can't parse entities: ")


def test_parser_accepts_every_telegram_tag() -> None:
    html = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        "<strike>k</strike><del>d</del><tg-spoiler>p</tg-spoiler>"
        '<span class="tg-spoiler">q</span><code>c</code><pre>r</pre>'
        '<a href="tg://user?id=1">a</a><blockquote expandable>x</blockquote>'
    )
    parsed = parse_html(html)
    assert parsed.text == "bsieunskdpqcrax"
    assert len(parsed.entities) == 15

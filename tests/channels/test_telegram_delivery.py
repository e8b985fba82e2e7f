"""Replies on their way out: chunking, formatting fallback, retries, refusals; typing,
progress, documents and the media that are not supported yet."""

from __future__ import annotations

from roost.bus.envelope import DELIVERY_DELIVERED, DELIVERY_FAILED, Delivery
from roost.channels.telegram.chunking import split_message
from roost.channels.telegram.formatting import markdown_to_html
from tests.bus.conftest import eventually
from tests.channels.conftest import OWNER, Roost, RoostFactory, settle, texts, wait_sent
from tests.fakes.llm_server import FakeLLM
from tests.fakes.telegram import FakeTelegram, parse_html

CODE = "\n".join(f"    line_{i} = compute({i})  # <&>" for i in range(120))
LONG = (
    "# Report\n\n"
    + "\n\n".join(f"Paragraph {i}: " + "words and more words " * 30 for i in range(8))
    + f"\n\n```python\n{CODE}\n```\n\nThe **end**."
)


async def queue(roost: Roost, target: str, body: str, **meta: object) -> Delivery:
    delivery = await roost.app.bus.enqueue(
        Delivery(target=target, sender="agent:assistant", body=body, meta=dict(meta))
    )
    roost.app.dispatcher.push([delivery])
    return delivery


async def settled(roost: Roost, delivery: Delivery, status: str) -> Delivery:
    async def done() -> bool:
        found = await roost.app.bus.to_target(delivery.target)
        return any(d.id == delivery.id and d.status == status for d in found)

    await eventually(done)
    return next(d for d in await roost.app.bus.to_target(delivery.target) if d.id == delivery.id)


async def test_a_long_reply_with_code_arrives_in_order_in_parts(
    roost: Roost, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    fake_llm.reply(LONG)
    fake.send_text(OWNER, "write a report")
    parts = split_message(LONG)
    assert len(parts) >= 3
    sent = await wait_sent(fake, len(parts))
    assert all(m.parse_mode == "HTML" and len(m.visible_text) <= 4096 for m in sent)
    assert [m.message_id for m in sent] == sorted(m.message_id for m in sent)
    joined = "\n".join(m.visible_text for m in sent)
    assert joined.index("Paragraph 0") < joined.index("Paragraph 7") < joined.index("line_119")
    assert "line_0 = compute(0)  # <&>" in joined and joined.endswith("The end.")
    assert any("<pre>" in m.text or "<pre><code" in m.text for m in sent)
    [delivery] = await roost.app.bus.to_target(f"telegram:{OWNER}")
    delivery = await settled(roost, delivery, DELIVERY_DELIVERED)
    assert delivery.channel_ref == ",".join(str(m.message_id) for m in sent)
    assert delivery.meta["sent_parts"] == len(parts)  # each part stored as Telegram confirms it


async def test_a_retry_resumes_after_the_parts_already_sent(
    roost: Roost, fake: FakeTelegram
) -> None:
    parts = split_message(LONG)
    delivery = await queue(roost, f"telegram:{OWNER}", LONG, sent_parts=2, message_ids=[7, 8])
    sent = await wait_sent(fake, len(parts) - 2)
    stored = await settled(roost, delivery, DELIVERY_DELIVERED)
    expected = [parse_html(markdown_to_html(part)).text.strip() for part in parts[2:]]
    assert [m.visible_text for m in sent] == expected
    assert stored.channel_ref == ",".join(["7", "8", *(str(m.message_id) for m in sent)])


async def test_rejected_formatting_is_resent_as_plain_text(
    roost: Roost, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    fake_llm.reply("**Bold** claim: 1 < 2 & `code`")
    fake.reject_html_next()
    fake.send_text(OWNER, "hi")
    [sent] = await wait_sent(fake, 1)
    assert sent.parse_mode is None and sent.text == "**Bold** claim: 1 < 2 & `code`"
    assert [c.status for c in fake.calls_to("sendMessage")] == [400, 200]


async def test_429_waits_retry_after_then_delivers(
    roost: Roost, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    fake.fail_next("sendMessage", 429, retry_after=0.3)
    fake.send_text(OWNER, "hi")
    [sent] = await wait_sent(fake, 1)
    assert sent.visible_text == "echo: hi"
    first, second = fake.calls_to("sendMessage")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.3


async def test_blocked_bot_and_foreign_chats_fail_for_good(
    roost: Roost, fake: FakeTelegram
) -> None:
    fake.fail_next("sendMessage", 403)
    blocked = await settled(roost, await queue(roost, f"telegram:{OWNER}", "hi"), DELIVERY_FAILED)
    assert blocked.attempts == 1 and "Forbidden" in (blocked.last_error or "")
    foreign = await settled(roost, await queue(roost, "telegram:999", "psst"), DELIVERY_FAILED)
    assert "neither an allowed user's nor an allowed group" in (foreign.last_error or "")
    assert len(fake.calls_to("sendMessage")) == 1


async def test_messages_from_agents_and_jobs_say_who_from(roost: Roost, fake: FakeTelegram) -> None:
    await queue(roost, f"telegram:{OWNER}", "build passed", kind="message")
    await queue(roost, f"telegram:{OWNER}", "42 new mails", kind="job_result", job="mail")
    sent = await wait_sent(fake, 2)
    assert [m.visible_text for m in sent] == ["assistant: build passed", "Job mail: 42 new mails"]


async def test_typing_shows_while_the_turn_runs(
    roost: Roost, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    roost.service.typing.interval_s = 0.1
    fake_llm.delay(0.6)
    fake.send_text(OWNER, "think hard")
    [reply] = await wait_sent(fake, 1)
    actions = [a for a in fake.chat_actions if a.chat_id == OWNER and a.action == "typing"]
    assert len(actions) >= 3
    await settle(roost, fake)
    assert len(fake.chat_actions) <= len(actions) + 1  # stopped with the turn
    assert actions[0].at < reply.at


async def test_progress_edits_one_status_message(
    start_roost: RoostFactory, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    await start_roost(progress=True)
    fake_llm.tool_call("list_files", {"path": "."})
    fake_llm.tool_call("list_files", {"path": "inbox"})
    fake_llm.reply("All listed.")
    fake.send_text(OWNER, "list things")
    await fake.wait_until_async(lambda: "All listed." in texts(fake))
    await fake.wait_until_async(lambda: texts(fake)[-1].startswith("✓ Done"))
    sent = fake.sent
    assert sent[0].method == "sendMessage" and sent[0].visible_text.startswith("⏳ Working")
    assert all(m.method == "editMessageText" for m in sent[1:] if m.visible_text != "All listed.")
    assert sent[-1].visible_text == "✓ Done: list_files → list_files"
    assert {m.message_id for m in sent if m.visible_text != "All listed."} == {sent[0].message_id}


async def test_documents_are_saved_into_the_workspace_and_announced(
    roost: Roost, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    content = b"%PDF-1.4 fake report"
    fake.send_document(OWNER, "../../etc/Q3 report (final).pdf", content, caption="summarize")
    [reply] = await wait_sent(fake, 1)
    workspace = roost.app.settings.agents["assistant"].workspace
    saved = workspace / "inbox" / "Q3_report_final_.pdf"
    assert saved.read_bytes() == content
    assert reply.visible_text == "echo: [document saved: inbox/Q3_report_final_.pdf]\nsummarize"
    fake.send_document(OWNER, "Q3 report (final).pdf", b"another one")
    await wait_sent(fake, 2)
    assert (workspace / "inbox" / "Q3_report_final_-1.pdf").read_bytes() == b"another one"
    assert len(fake_llm.requests) == 2


async def test_other_media_and_edits_get_no_model_call(
    roost: Roost, fake: FakeTelegram, fake_llm: FakeLLM
) -> None:
    fake.send_photo(OWNER, caption="look")
    fake.send_sticker(OWNER)
    fake.send_voice(OWNER)
    sent = await wait_sent(fake, 3)
    assert [m.visible_text.split(" aren't")[0] for m in sent] == [
        "Photos",
        "Stickers",
        "Voice messages",
    ]
    assert all(
        "not supported yet" in m.visible_text or "aren't supported" in m.visible_text for m in sent
    )
    fake.send_text(OWNER, "original")
    await wait_sent(fake, 4)
    edited = fake.send_edited_text(OWNER, 1, "edited")
    await settle(roost, fake)  # the fake drops it: the bot did not ask for edits
    fake.send_text(OWNER, "after")
    await wait_sent(fake, 5)
    await settle(roost, fake)
    assert texts(fake)[3:] == ["echo: original", "echo: after"]
    assert edited not in [u["update_id"] for u in fake.pending_updates]
    assert len(fake_llm.requests) == 2

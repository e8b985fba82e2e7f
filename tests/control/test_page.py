"""The control page in a real browser (Chromium via Playwright): sign-in (also by a link
opened in the open page), chat (Enter sends), approvals, cost, jobs, a phone-sized screen,
a restart of the gateway waited out, and no console errors along the way."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")
from playwright.async_api import Browser, expect

from roost.bus.envelope import Envelope, agent_address
from tests.control.conftest import TOKEN, Roost, RoostFactory, Tab, open_tab, sign_in
from tests.fakes.llm_server import FakeLLM

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_wrong_token_is_refused_and_counted(start_roost: RoostFactory, tab: Tab) -> None:
    roost = await start_roost(gateway=", auth_failures_per_minute: 1")
    await sign_in(tab, roost.url, "not-the-token")
    await expect(tab.page.get_by_role("alert")).to_have_text(re.compile("Wrong token"))
    await tab.page.get_by_role("button", name="Sign in").click()
    # The second failure from this address is over the limit of one: the limiter counted both.
    await expect(tab.page.get_by_role("alert")).to_have_text(re.compile("Too many failed"))
    assert await tab.page.locator("#console").is_hidden()
    assert tab.errors == []


async def test_sign_in_with_the_field_then_sign_out(roost: Roost, tab: Tab) -> None:
    # One call takes thrifty over its tiny daily cap.
    await roost.app.router.ask(
        Envelope(sender="test:owner", recipient=agent_address("thrifty"), session="s", body="x"),
        timeout_s=30,
    )
    await sign_in(tab, roost.url)
    agents = tab.page.locator("#view-agents")
    await expect(agents.locator("tr[data-agent=assistant]")).to_contain_text("claude-haiku-4-5")
    await expect(agents.locator("tr[data-agent=ops]")).to_contain_text("shell")
    await expect(agents.locator("tr[data-agent=ops]")).to_contain_text("gpt/gpt-5-mini")
    await expect(agents.locator("tr[data-agent=ops]")).to_contain_text("idle")
    await expect(agents.locator("tr[data-agent=thrifty]")).to_contain_text("over budget")
    await tab.page.get_by_role("button", name="Sign out").click()
    await expect(tab.page.get_by_label("Gateway token")).to_be_visible()
    token = await tab.page.evaluate("sessionStorage.getItem('roost.token')")
    assert token is None
    assert tab.errors == []


async def test_sign_in_through_the_fragment_clears_it(roost: Roost, tab: Tab) -> None:
    await tab.page.goto(f"{roost.url}/#token={TOKEN}")
    await expect(tab.page.locator("tr[data-agent=assistant]")).to_be_visible()
    assert TOKEN not in tab.page.url
    assert TOKEN not in await tab.page.evaluate("String(history.length) + location.href")
    # A reload stays signed in (the tab's sessionStorage), without the fragment.
    await tab.page.reload()
    await expect(tab.page.locator("tr[data-agent=assistant]")).to_be_visible()
    assert tab.errors == []


async def test_chat_streams_the_answer_and_shows_tool_calls(
    roost: Roost, tab: Tab, fake_llm: FakeLLM
) -> None:
    fake_llm.tool_call("shell", {"command": "echo <b>not bold</b>"}, text="Let me look.")
    fake_llm.reply("All <i>done</i>: nothing to fix.")
    await sign_in(tab, roost.url)
    page = tab.page
    await page.get_by_role("tab", name="Chat").click()
    await page.get_by_label("Agent", exact=True).select_option("ops")
    await page.get_by_label("Message").fill("check the build")
    await page.get_by_role("button", name="Send").click()
    answer = page.locator(".msg.assistant[data-message]")
    # The shell asks for approval (mode ask): the tool line shows it running meanwhile.
    await expect(answer.locator(".tool-line")).to_contain_text("shell · running")
    await page.get_by_role("tab", name="Agents").click()
    await expect(page.locator("tr[data-agent=ops]")).to_contain_text("in a turn")
    await page.get_by_role("tab", name="Approvals").click()
    pending = page.locator("[data-approval]")
    await expect(pending).to_contain_text("echo <b>not bold</b>")
    await pending.get_by_role("button", name="Approve").click()
    await expect(page.get_by_text("Nothing waits for a decision.")).to_be_visible()
    await page.get_by_role("tab", name="Chat").click()
    await expect(answer).to_have_attribute("data-status", "ok")
    # Every model call of the turn streams into the answer, as it is written.
    streamed = "Let me look.All <i>done</i>: nothing to fix."
    await expect(answer.locator(".text")).to_have_text(streamed)
    await expect(answer.locator(".tool-line")).to_contain_text("shell · done")
    # Agent output is text on the page, never markup.
    assert await page.locator("#view-chat i, #view-chat b").count() == 0
    assert tab.errors == []


async def test_approval_requested_elsewhere_is_decided_on_the_page(
    roost: Roost, tab: Tab, fake_llm: FakeLLM
) -> None:
    fake_llm.tool_call("shell", {"command": "make deploy"})
    fake_llm.reply("deployed")
    await sign_in(tab, roost.url)
    await tab.page.get_by_role("tab", name="Approvals").click()
    envelope = Envelope(
        sender="test:owner", recipient=agent_address("ops"), session="s1", body="deploy"
    )
    turn = asyncio.create_task(roost.app.router.ask(envelope, timeout_s=30))
    pending = tab.page.locator("[data-approval]")
    await expect(pending).to_contain_text("make deploy")
    await expect(tab.page.locator("#approvals-count")).to_have_text("1")
    await pending.get_by_role("button", name="Deny").click()
    result = await asyncio.wait_for(turn, 30)
    assert result.text == "deployed"
    assert "denied" in repr(fake_llm.requests[-1].body)
    await expect(tab.page.locator("#approvals-count")).to_have_text("")
    assert tab.errors == []


async def test_cost_shows_figures_chart_and_budgets(roost: Roost, tab: Tab) -> None:
    await roost.app.router.ask(
        Envelope(sender="test:owner", recipient=agent_address("assistant"), session="s", body="hi"),
        timeout_s=30,
    )
    await sign_in(tab, roost.url)
    page = tab.page
    await page.get_by_role("tab", name="Cost").click()
    await expect(page.locator("#cost-today")).to_have_text(re.compile(r"^\$0\.0*[1-9]"))
    await expect(page.locator("svg.chart")).to_contain_text("assistant")
    budgets = page.locator("#view-cost table").last
    await expect(budgets).to_contain_text("agent assistant")
    await expect(budgets).to_contain_text("$2.00")
    await page.get_by_label("Group by").select_option("model")
    await expect(page.locator("svg.chart")).to_contain_text("claude/claude-haiku-4-5")
    assert tab.errors == []


async def test_jobs_run_now_shows_the_run_and_its_deliveries(roost: Roost, tab: Tab) -> None:
    await sign_in(tab, roost.url)
    page = tab.page
    await page.get_by_role("tab", name="Jobs").click()
    job = page.locator("tr[data-job=digest]")
    await expect(job).to_contain_text("every 1d")
    await job.get_by_role("button", name="Run now").click()
    run = page.locator("#job-runs tr[data-run]").first
    await expect(run).to_contain_text("ok")
    await expect(run).to_contain_text("ws:nobody-home")
    await job.get_by_role("button", name="Pause").click()
    await expect(job).to_contain_text("paused")
    await job.get_by_role("button", name="Resume").click()
    await expect(job).to_contain_text("active")
    assert tab.errors == []


async def test_phone_sized_screen_is_usable(roost: Roost, browser: Browser) -> None:
    tab = await open_tab(browser, viewport={"width": 360, "height": 740}, is_mobile=True)
    try:
        await sign_in(tab, roost.url)
        page = tab.page
        await page.get_by_role("tab", name="Chat").click()
        send = page.get_by_role("button", name="Send")
        await expect(send).to_be_in_viewport()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"the page is {width}px wide on a 360px screen"
        # Keyboard: the tabs move with the arrow keys.
        await page.get_by_role("tab", name="Chat").focus()
        await page.keyboard.press("ArrowRight")
        await expect(page.get_by_role("tab", name="Traffic")).to_have_attribute(
            "aria-selected", "true"
        )
        assert tab.errors == []
    finally:
        await tab.page.context.close()


async def test_every_view_opens_without_an_error(roost: Roost, tab: Tab) -> None:
    await sign_in(tab, roost.url)
    page = tab.page
    said = {
        "Agents": "Agents",
        "Chat": "Chat",
        "Traffic": "Live traffic",
        "Approvals": "Nothing waits for a decision.",
        "Cost": "No model calls this month.",
        "Jobs": "digest",
        "Telegram": "Telegram is not configured",
    }
    for name, text in said.items():
        await page.get_by_role("tab", name=name).click()
        view = page.get_by_role("tabpanel")
        await expect(view).to_contain_text(text)
    # Live traffic shows what happens meanwhile, filterable.
    await page.get_by_role("tab", name="Traffic").click()
    await roost.app.router.ask(
        Envelope(sender="test:owner", recipient=agent_address("assistant"), session="t", body="x"),
        timeout_s=30,
    )
    events = page.locator("#traffic-events li")
    await expect(events.filter(has_text="test:owner → agent:assistant")).to_have_count(1)
    await page.get_by_label("Filter text").fill("no such text")
    await expect(events.filter(has_text="agent:assistant").first).to_be_hidden()
    assert tab.errors == []


async def test_chat_history_is_paged(roost: Roost, tab: Tab) -> None:
    for number in range(26):  # 52 messages: one more page than the first
        await roost.app.router.ask(
            Envelope(
                sender="test:owner",
                recipient=agent_address("assistant"),
                session="long",
                body=f"message {number}",
            ),
            timeout_s=30,
        )
    await sign_in(tab, roost.url)
    page = tab.page
    await page.get_by_role("tab", name="Chat").click()
    await page.get_by_label("Session").fill("long")
    await page.get_by_label("Session").press("Enter")
    messages = page.locator("#chat-messages .msg")
    await expect(messages).to_have_count(50)
    await expect(messages.last).to_have_text(re.compile("echo: message 25$"))
    await page.get_by_role("button", name="Load older messages").click()
    await expect(messages).to_have_count(52)
    await expect(messages.first).to_have_text(re.compile("message 0$"))
    await expect(page.get_by_role("button", name="Load older messages")).to_be_hidden()
    assert tab.errors == []


async def test_a_token_link_opened_in_the_open_page_signs_in(roost: Roost, tab: Tab) -> None:
    page = tab.page
    await page.goto(roost.url)
    await expect(page.get_by_label("Gateway token")).to_be_visible()
    # Same tab, only the fragment changes: no reload, a hashchange.
    await page.goto(f"{roost.url}/#token={TOKEN}")
    await expect(page.locator("tr[data-agent=assistant]")).to_be_visible()
    await expect(page).not_to_have_url(re.compile("token="))
    # Another link, while signed in, replaces the session: this one's token is refused.
    await page.goto(f"{roost.url}/#token=not-the-token")
    await expect(page.get_by_role("alert")).to_have_text(re.compile("Wrong token"))
    await expect(page).not_to_have_url(re.compile("token="))
    assert await page.locator("#console").is_hidden()
    assert tab.errors == []


async def test_enter_sends_and_shift_enter_is_a_new_line(
    roost: Roost, tab: Tab, fake_llm: FakeLLM
) -> None:
    await sign_in(tab, roost.url)
    page = tab.page
    await page.get_by_role("tab", name="Chat").click()
    box = page.get_by_label("Message")
    await expect(box).to_have_attribute("placeholder", re.compile("Enter sends"))
    await box.fill("first line")
    await box.press("Shift+Enter")
    await box.press_sequentially("second line")
    await expect(box).to_have_value("first line\nsecond line")
    # Enter while an input method composes picks its characters: nothing is sent. (The
    # send would show the message at once, before this returns.)
    shown = await box.evaluate(
        """(box) => {
            const enter = { key: "Enter", isComposing: true, bubbles: true, cancelable: true };
            box.dispatchEvent(new KeyboardEvent("keydown", enter));
            return document.querySelectorAll("#chat-messages .msg.user").length;
        }"""
    )
    assert shown == 0
    await box.press("Enter")
    answers = page.locator(".msg.assistant[data-message]")
    await expect(answers.last).to_have_attribute("data-status", "ok")
    await expect(box).to_have_value("")
    assert "first line\\nsecond line" in json.dumps(fake_llm.requests[-1].body)
    # Ctrl+Enter sends too, as it did before Enter did.
    await box.fill("once more")
    await box.press("Control+Enter")
    await expect(answers).to_have_count(2)
    await expect(answers.last).to_have_attribute("data-status", "ok")
    await expect(answers.last.locator(".text")).to_have_text("echo: once more")
    assert tab.errors == []


def unreachable(errors: list[str]) -> list[str]:
    """All but Chromium's own lines for a WebSocket that found no server (while it is down)."""
    return [error for error in errors if not error.startswith("WebSocket connection to")]


async def restart(roost: Roost, start_roost: RoostFactory, tab: Tab, **settings: str) -> Roost:
    """Stop ``roost`` and start another on its port, once the page says it lost it.

    The page connects to its own origin, so the new gateway must be on the same port: it
    takes the port the first one let go (bound with SO_REUSEADDR, so no TIME_WAIT is in
    the way; another process taking that port in between would fail the start loudly).
    """
    await roost.stop()
    await expect(tab.page.get_by_role("status")).to_have_text("disconnected · reconnecting…")
    return await start_roost(port=roost.gateway.port, **settings)


async def test_the_page_waits_out_a_restart_and_works_again(
    start_roost: RoostFactory, tab: Tab
) -> None:
    first = await start_roost()
    await sign_in(tab, first.url)
    page = tab.page
    await page.get_by_role("tab", name="Chat").click()
    await expect(page.get_by_label("Agent", exact=True)).to_have_value("assistant")
    second = await restart(first, start_roost, tab)
    assert second.url == first.url
    # Back, still signed in: the view asks again, a message gets its answer.
    await expect(page.get_by_role("status")).to_have_text(re.compile("^connected · Roost"))
    await page.get_by_label("Message").fill("are you back?")
    await page.get_by_label("Message").press("Enter")
    answer = page.locator(".msg.assistant[data-message]").last
    await expect(answer.locator(".text")).to_have_text("echo: are you back?")
    await page.get_by_role("tab", name="Agents").click()
    await expect(page.locator("tr[data-agent=ops]")).to_contain_text("idle")
    assert await page.get_by_label("Gateway token").is_hidden()
    assert unreachable(tab.errors) == []


async def test_a_token_the_new_gateway_refuses_signs_out_saying_why(
    start_roost: RoostFactory, tab: Tab
) -> None:
    first = await start_roost()
    await sign_in(tab, first.url)
    await expect(tab.page.locator("tr[data-agent=assistant]")).to_be_visible()
    await restart(first, start_roost, tab, token="a-new-token-the-page-does-not-have-0123")
    await expect(tab.page.get_by_role("alert")).to_have_text(
        re.compile("no longer accepts this token")
    )
    await expect(tab.page.get_by_label("Gateway token")).to_be_visible()
    assert await tab.page.evaluate("sessionStorage.getItem('roost.token')") is None
    assert unreachable(tab.errors) == []


async def test_a_view_fragment_naming_no_view_shows_the_agents(roost: Roost, tab: Tab) -> None:
    # "constructor" is a property of every object, not a view: no error, the default view.
    await tab.page.goto(roost.url + "/#view=constructor")
    await tab.page.get_by_label("Gateway token").fill(TOKEN)
    await tab.page.get_by_role("button", name="Sign in").click()
    await expect(tab.page.get_by_role("tab", name="Agents")).to_have_attribute(
        "aria-selected", "true"
    )
    assert tab.errors == []

"""The web control page under load: its weight, the time to the sign-in screen, and the
time from a sent message to its first streamed token on the page, on top of the model's.

A `roost run` child (20 agents on the fake LLM in its own process) serves the page;
Debian's Chromium (headless, through Playwright) loads it. Measured twice: idle (one
tab, nothing else happening), and loaded (5 tabs signed in, one on each busy view, while
the other 19 agents talk: each gets a message a second, as soon as it answered the last).

- page weight: every byte the browser received to show the signed-in page (cold cache).
- sign-in screen: from `page.goto` in a new browser context (cold cache) to the token
  field being visible, and inside the page from navigation start to the end of the
  DOMContentLoaded handler that shows it.
- first token: in the page, from the Send click to the first streamed text in the
  answer (performance.now() in the page), minus the model's own time to first token
  (a streaming request straight to the fake LLM, measured just before).

    python -m bench.control_page [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, async_playwright
from websockets.asyncio.client import connect

from bench.ask_via_gateway import roost_run
from bench.common import emit, fake_llm_process, roost_home, summary

CHROMIUM = "/usr/bin/chromium"
AGENTS = 20
TABS = 5
BUSY_VIEWS = ("traffic", "agents", "cost", "jobs")
TALK_INTERVAL_S = 1.0
"""Each talking agent gets a message a second: 19 turns/s, more than a home box sees."""

FIRST_TOKEN_JS = """
async () => {
  // A MutationObserver, not requestAnimationFrame: a tab in the background gets no frames.
  const box = document.getElementById('chat-messages');
  const before = box.querySelectorAll('.msg.assistant[data-message]').length;
  const started = performance.now();
  return await new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      const all = box.querySelectorAll('.msg.assistant[data-message]');
      const text = all.length > before ? all[all.length - 1].querySelector('.text') : null;
      if (text && text.textContent.length) {
        observer.disconnect();
        resolve([performance.now() - started, all[all.length - 1].dataset.message]);
      }
    });
    observer.observe(box, { childList: true, subtree: true, characterData: true });
    document.getElementById('chat-send').click();
  });
}
"""


def write_config(directory: Path, url: str) -> None:
    agents = "".join(f"  agent{n:02d}: {{model: claude/claude-haiku-4-5}}\n" for n in range(AGENTS))
    (directory / "roost.yaml").write_text(
        textwrap.dedent(
            f"""\
            home: {directory / "home"}
            providers:
              claude: {{type: anthropic, base_url: "{url}", api_key: bench}}
            agents:
            """
        )
        + agents,
        encoding="utf-8",
    )


async def model_first_token_ms(url: str, runs: int) -> list[float]:
    """The fake LLM's own time to its first streamed token, as Roost's SDK would see it."""
    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "ping"}],
    }
    headers = {"x-api-key": "bench", "anthropic-version": "2023-06-01"}
    samples = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for _ in range(runs):
            started = time.perf_counter()
            async with http.stream("POST", "/v1/messages", json=body, headers=headers) as answer:
                async for line in answer.aiter_lines():
                    if "text_delta" in line:
                        samples.append((time.perf_counter() - started) * 1000)
                        break
    return samples


async def signed_in_tab(browser: Browser, http_url: str, token: str, view: str) -> Page:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{http_url}/#token={token}")
    await page.locator("#sign-out").wait_for(state="visible", timeout=30_000)
    await page.get_by_role("tab", name=view.capitalize()).click()
    return page


async def sign_in_screen_ms(
    browser: Browser, http_url: str, runs: int
) -> tuple[list[float], list[float], int]:
    samples: list[float] = []
    in_page: list[float] = []
    weight = 0
    for _ in range(runs):
        context = await browser.new_context()
        page = await context.new_page()
        started = time.perf_counter()
        await page.goto(http_url)
        await page.get_by_label("Gateway token").wait_for(state="visible")
        samples.append((time.perf_counter() - started) * 1000)
        # The sign-in screen is shown by the DOMContentLoaded handler: its end is when.
        in_page.append(
            await page.evaluate(
                "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
            )
        )
        weight = await page.evaluate(
            "performance.getEntriesByType('navigation').concat(performance.getEntriesByType("
            "'resource')).reduce((sum, e) => sum + e.transferSize, 0)"
        )
        await context.close()
    return samples, in_page, int(weight)


async def chat_tab(browser: Browser, http_url: str, token: str) -> Page:
    """A tab on the chat view of agent00 (its history loaded: nothing races the sends)."""
    page = await signed_in_tab(browser, http_url, token, "chat")
    await page.get_by_label("Agent", exact=True).select_option("agent00")
    await page.get_by_text("No messages in this session yet.").wait_for()
    return page


async def first_token_ms(page: Page, runs: int) -> list[float]:
    samples = []
    for number in range(runs):
        await page.get_by_label("Message").fill(f"measure {number}")
        await page.bring_to_front()
        try:
            elapsed, message = await asyncio.wait_for(page.evaluate(FIRST_TOKEN_JS), 60)
        except TimeoutError:
            said = await page.evaluate(
                "document.getElementById('conn').textContent + ' | ' + "
                "document.querySelector('#view-chat .error').textContent"
            )
            raise RuntimeError(f"no answer on the page within 60 s (it says: {said})") from None
        samples.append(float(elapsed))
        # The turn ends before the next one starts: one message at a time, as a person.
        await page.locator(f'.msg.assistant[data-message="{message}"][data-status]').wait_for()
    return samples


async def ws_first_token_ms(ws_url: str, token: str, runs: int) -> list[float]:
    """The same measure from a plain WebSocket client: what the server alone takes."""
    samples = []
    headers = {"Authorization": f"Bearer {token}"}
    async with connect(
        f"{ws_url}?client=probe", additional_headers=headers, ping_interval=None
    ) as ws:
        await ws.recv()
        for number in range(runs):
            params = {"agent": "agent00", "text": f"probe {number}", "session": "probe"}
            started = time.perf_counter()
            await ws.send(
                json.dumps({"type": "req", "id": number, "method": "chat.send", "params": params})
            )
            first = None
            while True:
                frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if first is None and frame.get("event") == "chat.delta":
                    first = (time.perf_counter() - started) * 1000
                if frame.get("event") in ("chat.reply", "chat.error"):
                    break
            assert first is not None
            samples.append(first)
    return samples


@contextlib.asynccontextmanager
async def agents_talking(ws_url: str, token: str) -> AsyncIterator[list[int]]:
    """Every agent but agent00 gets a message a second (once it answered the last one)."""
    turns = [0]

    async def talk(agent: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with connect(
            f"{ws_url}?client=load-{agent}", additional_headers=headers, ping_interval=None
        ) as ws:
            await ws.recv()
            for number in range(1_000_000):
                next_at = time.perf_counter() + TALK_INTERVAL_S
                request = {"agent": agent, "text": f"talk {number}", "session": "load"}
                await ws.send(
                    json.dumps(
                        {"type": "req", "id": number, "method": "chat.send", "params": request}
                    )
                )
                while True:
                    frame: dict[str, Any] = json.loads(await ws.recv())
                    if frame.get("event") in ("chat.reply", "chat.error"):
                        turns[0] += 1
                        break
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    tasks = [asyncio.create_task(talk(f"agent{n:02d}")) for n in range(1, AGENTS)]
    try:
        yield turns
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def measure(
    http_url: str, ws_url: str, token: str, llm_url: str, runs: int
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        screen, in_page, weight = await sign_in_screen_ms(browser, http_url, runs)
        figures["page_weight_bytes"] = weight
        figures["sign_in_screen_ms"] = summary(screen)
        figures["sign_in_screen_in_page_ms"] = summary(in_page)
        model = await model_first_token_ms(llm_url, runs)
        figures["model_first_token_ms"] = summary(model)
        figures["idle_ws_client_first_token_ms"] = summary(
            await ws_first_token_ms(ws_url, token, runs)
        )
        tab = await chat_tab(browser, http_url, token)
        idle = await first_token_ms(tab, runs)
        figures["idle_first_token_ms"] = summary(idle)
        others = [await signed_in_tab(browser, http_url, token, view) for view in BUSY_VIEWS]
        async with agents_talking(ws_url, token) as turns:
            started, before = time.perf_counter(), turns[0]
            loaded = await first_token_ms(tab, runs)
            rate = (turns[0] - before) / (time.perf_counter() - started)
            figures["loaded_ws_client_first_token_ms"] = summary(
                await ws_first_token_ms(ws_url, token, runs)
            )
        figures["loaded_first_token_ms"] = summary(loaded)
        figures["loaded_turns_per_s"] = round(rate, 1)
        figures["tabs"] = 1 + len(others)
        figures["agents"] = AGENTS
        model_median = figures["model_first_token_ms"]["median"]
        figures["idle_on_top_of_model_ms"] = round(
            figures["idle_first_token_ms"]["median"] - model_median, 1
        )
        figures["loaded_on_top_of_model_ms"] = round(
            figures["loaded_first_token_ms"]["median"] - model_median, 1
        )
        await browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"bench.control_page: {CHROMIUM} is missing (apt-get install chromium)")
    with fake_llm_process() as url, roost_home(url) as (directory, env):
        write_config(directory, url)
        with roost_run(directory, env) as ws_url:
            token = (directory / "home" / "gateway.token").read_text(encoding="utf-8").strip()
            http_url = ws_url.replace("ws://", "http://").removesuffix("/ws")
            figures = asyncio.run(measure(http_url, ws_url, token, url, runs))
    emit(
        figures,
        f"control page: {figures['page_weight_bytes'] / 1024:.1f} KB, sign-in screen "
        f"{figures['sign_in_screen_ms']['median']:.0f} ms from a new browser context "
        f"({figures['sign_in_screen_in_page_ms']['median']:.0f} ms in the page); first token "
        f"on the page "
        f"+{figures['idle_on_top_of_model_ms']:.0f} ms over the model's own idle, "
        f"+{figures['loaded_on_top_of_model_ms']:.0f} ms with {figures['tabs']} tabs and "
        f"{figures['agents']} agents talking ({figures['loaded_turns_per_s']} turns/s; a plain "
        f"WebSocket client there: {figures['loaded_ws_client_first_token_ms']['median']:.0f} ms)",
    )


if __name__ == "__main__":
    main()

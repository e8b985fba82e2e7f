"""Telegram round trip: from an update becoming available on the (fake) Bot API server to
the reply's sendMessage arriving there, through a real `roost run` with an instant fake LLM.

Target: <= 15 ms median on top of the long-poll return. Both ends are timed by the fake
server in this process (``time.monotonic``): the injection, and the arrival of the
sendMessage. Messages go one at a time. Beside it: the long-poll return alone (a bare
python-telegram-bot client polling the same server), and a split of the round trip
into the agent's turn as Roost recorded it (``turns``; its model call from the ledger)
and the rest: the poll, the inbox, the outbox and sendMessage.

    python -m bench.telegram_latency [--messages 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import telegram

from bench.common import REPO, emit, fake_llm_process, roost_home, summary
from tests.fakes.telegram import FakeTelegram, running_fake_telegram

USER = 111
WARMUP = 20
ROOST_RUN = [sys.executable, "-m", "roost", "run"]
"""`roost run` (with the Telegram service added if `roost run` does not add it yet)."""


@contextmanager
def roost_with_telegram(fake: FakeTelegram, directory: Path, env: dict[str, str]) -> Iterator[None]:
    with (directory / "roost.yaml").open("a", encoding="utf-8") as config:
        config.write(
            "gateway: {enabled: false}\n"
            f"telegram: {{token: '{fake.token}', api_base_url: '{fake.url}', "
            f"allowed_users: [{USER}], default_agent: assistant, "
            # One chat gets ~70 replies a second here, over Telegram's limits (1/s in a
            # chat, 30/s in all): lifted, so the figure stays Roost's own latency.
            "rate_limit: {per_chat_per_s: 1000, global_per_s: 1000, burst: 100}}\n"
        )
    env = env | {"PYTHONPATH": str(REPO)}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(ROOST_RUN, cwd=directory, env=env, stderr=log)
        try:
            fake.wait_until(lambda: bool(fake.calls_to("getUpdates")), timeout=60)
            yield
        except Exception:
            log.seek(0)
            print(log.read().decode(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def turn_figures(directory: Path, count: int) -> dict[str, dict[str, float]]:
    """The last ``count`` turns as Roost recorded them: whole turn, and its model call."""
    with sqlite3.connect(directory / "home" / "roost.db") as db:
        turns = [
            row[0]
            for row in db.execute(
                "select (julianday(finished_at) - julianday(started_at)) * 86400000 "
                "from turns order by id desc limit ?",
                (count,),
            )
        ]
        calls = [
            float(row[0])
            for row in db.execute(
                "select duration_ms from model_calls order by id desc limit ?", (count,)
            )
        ]
    return {"turn_ms": summary(turns), "provider_call_ms": summary(calls)}


def round_trips(fake: FakeTelegram, count: int) -> list[float]:
    """Milliseconds from injecting each message to its reply's arrival, one at a time."""
    samples = []
    for number in range(count):
        before = len(fake.sent)
        injected = time.monotonic()
        fake.send_text(USER, f"message {number}")
        fake.wait_until(lambda before=before: len(fake.sent) > before, timeout=30)  # type: ignore[misc]
        reply = fake.sent[before]
        if reply.visible_text != f"echo: message {number}":
            raise RuntimeError(f"unexpected reply {reply.visible_text!r}")
        samples.append((reply.at - injected) * 1000)
    return samples


async def _long_poll_returns(fake: FakeTelegram, count: int) -> list[float]:
    samples = []
    async with telegram.Bot(fake.token, base_url=fake.bot_base_url) as bot:
        offset = None
        for number in range(count):
            poll = asyncio.ensure_future(bot.get_updates(offset=offset, timeout=10))
            await asyncio.sleep(0.005)  # the poll is waiting on the server
            injected = time.monotonic()
            await asyncio.to_thread(fake.send_text, USER + 1, f"poll {number}")
            updates = await poll
            samples.append((time.monotonic() - injected) * 1000)
            offset = updates[-1].update_id + 1
        await bot.get_updates(offset=offset, timeout=0)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=500)
    count = parser.parse_args().messages
    with running_fake_telegram() as fake:
        poll = summary(asyncio.run(_long_poll_returns(fake, 100)))
        fake.reset()
        with (
            fake_llm_process() as url,
            roost_home(url) as (directory, env),
            roost_with_telegram(fake, directory, env),
        ):
            round_trips(fake, WARMUP)
            samples = summary(round_trips(fake, count))
            turns = turn_figures(directory, count)
    extra = round(samples["median"] - poll["median"], 2)
    channel = round(samples["median"] - turns["turn_ms"]["median"], 2)
    figures = {
        "messages": count,
        "round_trip_ms": samples,
        "long_poll_return_ms": poll,
        "median_on_top_of_long_poll_ms": extra,
        **turns,
        "median_outside_the_turn_ms": channel,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    emit(
        figures,
        f"Telegram update → reply sendMessage through `roost run` (fake Bot API, instant fake "
        f"LLM), {count} messages: median {samples['median']:.1f} ms, p95 {samples['p95']:.1f} "
        f"ms (min {samples['min']:.1f}, max {samples['max']:.1f}); the long-poll return alone: "
        f"median {poll['median']:.1f} ms; on top of it: {extra:.1f} ms (target <= 15 ms), of "
        f"which the agent's turn {turns['turn_ms']['median']:.1f} ms (its model call "
        f"{turns['provider_call_ms']['median']:.1f} ms) and the rest (poll, inbox, outbox, "
        f"sendMessage) {channel:.1f} ms",
    )


if __name__ == "__main__":
    main()

"""Random kill -9 under load: what a crash costs, counted.

Starts `roost run` (fake LLM on loopback, answering each call after a random few tens of
milliseconds, so kills land inside turns), sends ``--messages`` messages over the
gateway's WebSocket from ``--clients`` clients (each its own client id and session),
and kills the process with SIGKILL after a random uptime (seeded), restarting it each
time, until every message was sent; then lets the last run finish its work and reads
the database. Figures:

- acknowledged (``chat.send`` answered ok) vs answered (a ``chat.reply``/``chat.error``
  for it reached the client); a message whose acknowledgement was lost in a kill is
  counted apart (it may or may not have been stored; if stored, it must be answered too)
- duplicate user messages stored (the same text stored more than once)
- duplicate replies delivered (the same delivery, or two deliveries for one message)

    python -m bench.kill_chaos --seed 1 --messages 200 [--clients 4] [--rate 3]

Loopback only. Most of the time goes to restarts: on a 2-core machine at load ~10 one
seed took 4 to 13 minutes (55 to 156 kills); on a quiet machine it is a fraction of that.
The kill schedule and the messages are seeded; the moments the kills land in the
process's work, and so the number of kills, depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

from bench.common import REPO, emit, fake_llm_process, roost_home, summary, write_gateway_config

TOKEN = "chaos-token"
AGENT = "assistant"
SETTLE_S = 120.0
"""At most this long for the last run to answer and deliver everything."""


@dataclass
class Tally:
    sent: int = 0
    acked: dict[int, str] = field(default_factory=dict)
    """message_id -> text, for every chat.send answered ok."""
    unacked: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    replies: Counter[int] = field(default_factory=Counter)
    """message_id -> replies received."""
    deliveries: Counter[int] = field(default_factory=Counter)
    """delivery_id -> times received."""
    reply_deliveries: dict[int, set[int]] = field(default_factory=dict)
    """message_id -> the delivery ids its replies came in."""
    ack_s: list[float] = field(default_factory=list)
    """chat.send to its acknowledgement, for each acknowledged message."""


class Server:
    """The `roost run` child, killed and restarted."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.env = env
        self.home = directory / "home"
        self.process: subprocess.Popen[bytes] | None = None
        self.ws_url = ""
        self.up = asyncio.Event()
        self.starts = 0
        self._log = open(directory / "roost.log", "ab")  # noqa: SIM115 - kept across runs

    async def start(self) -> None:
        self.process, self.ws_url = await asyncio.to_thread(self._spawn)
        self.starts += 1
        self.up.set()

    def _spawn(self) -> tuple[subprocess.Popen[bytes], str]:
        from roost.gateway.discovery import read_endpoint

        process = subprocess.Popen(
            [sys.executable, "-m", "roost", "run"],
            cwd=self.directory,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"roost run exited with {process.returncode}: see roost.log")
            endpoint = read_endpoint(self.home)
            if endpoint is not None and endpoint.pid == process.pid:
                return process, endpoint.ws_url
            time.sleep(0.01)
        process.kill()
        raise RuntimeError("roost run did not start its gateway within 60 s")

    def kill(self) -> None:
        self.up.clear()
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        self.up.clear()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class ChaosClient:
    """One WebSocket client id sending its messages in order, reconnecting after kills."""

    def __init__(
        self, index: int, texts: list[str], server: Server, tally: Tally, rng: random.Random
    ) -> None:
        self.client_id = f"chaos-{index}"
        self.session = f"chaos-{index}"
        self.texts = texts
        self.next = 0
        self.server = server
        self.tally = tally
        self.rng = rng
        self.rate = 3.0
        self.all_sent = asyncio.Event()
        self.finished = asyncio.Event()
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def run(self) -> None:
        if not self.texts:
            self.all_sent.set()
        while not self.finished.is_set():
            await self.server.up.wait()
            url = f"{self.server.ws_url}?token={TOKEN}&client={self.client_id}"
            try:
                ws = await websockets.connect(url, open_timeout=5, max_size=None)
                await asyncio.wait_for(ws.recv(), 5)  # hello
            except (OSError, TimeoutError, websockets.WebSocketException):
                await asyncio.sleep(0.05)  # the process is being killed or restarted
                continue
            await self._connected(ws)

    async def _connected(self, ws: websockets.ClientConnection) -> None:
        sender = asyncio.create_task(self._send_all(ws))
        finished = asyncio.create_task(self.finished.wait())
        reader = asyncio.create_task(self._read(ws))
        await asyncio.wait({reader, finished}, return_when=asyncio.FIRST_COMPLETED)
        for task in (sender, finished, reader):
            task.cancel()
        await asyncio.gather(sender, finished, reader, return_exceptions=True)
        await ws.close()

    async def _send_all(self, ws: websockets.ClientConnection) -> None:
        while self.next < len(self.texts):
            await asyncio.sleep(self.rng.expovariate(self.rate))
            text = self.texts[self.next]
            self.next += 1  # sent once: an unacknowledged message is not sent again
            future = asyncio.get_running_loop().create_future()
            self._pending[text] = future
            self.tally.sent += 1
            request = {"agent": AGENT, "text": text, "session": self.session}
            sent_at = time.perf_counter()
            try:
                await ws.send(
                    json.dumps(
                        {"type": "req", "id": text, "method": "chat.send", "params": request}
                    )
                )
                frame = await asyncio.wait_for(future, 10)
            except (TimeoutError, ConnectionError, websockets.WebSocketException):
                self.tally.unacked.append(text)
                return
            finally:
                self._pending.pop(text, None)
            if frame.get("ok"):
                self.tally.acked[int(frame["result"]["message_id"])] = text
                self.tally.ack_s.append(time.perf_counter() - sent_at)
            else:
                self.tally.refused.append(text)
        self.all_sent.set()

    async def _read(self, ws: websockets.ClientConnection) -> None:
        with contextlib.suppress(websockets.WebSocketException, ConnectionError):
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "res":
                    future = self._pending.get(str(frame.get("id")))
                    if future is not None and not future.done():
                        future.set_result(frame)
                elif frame.get("event") in ("chat.reply", "chat.error"):
                    data = frame["data"]
                    message_id, delivery_id = int(data["message_id"]), int(data["delivery_id"])
                    self.tally.replies[message_id] += 1
                    self.tally.deliveries[delivery_id] += 1
                    self.tally.reply_deliveries.setdefault(message_id, set()).add(delivery_id)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection lost"))


async def _chaos(args: argparse.Namespace, server: Server) -> dict[str, Any]:
    rng = random.Random(args.seed)
    tally = Tally()
    per_client: list[list[str]] = [[] for _ in range(args.clients)]
    for n in range(args.messages):
        per_client[n % args.clients].append(f"seed{args.seed}-m{n}")
    clients = [
        ChaosClient(i, texts, server, tally, random.Random(rng.random()))
        for i, texts in enumerate(per_client)
    ]
    for client in clients:
        client.rate = args.rate
    tasks = [asyncio.create_task(client.run()) for client in clients]
    all_sent = asyncio.gather(*(client.all_sent.wait() for client in clients))
    started = time.perf_counter()
    kills = 0
    while True:
        await server.start()
        uptime = rng.uniform(args.min_uptime, args.max_uptime)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(all_sent), uptime)
        server.kill()  # also once after the last message was sent: its turn may be running
        kills += 1
        if all_sent.done():
            break
    await server.start()  # the last run: recovers, answers and delivers what is left
    settled = await _settle(server.home, tally)
    for client in clients:
        client.finished.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    server.stop()
    return _figures(args, tally, server, kills, settled, time.perf_counter() - started)


async def _settle(home: Path, tally: Tally) -> bool:
    """Wait until every acknowledged message was answered and the outbox is empty."""
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        answered = all(tally.replies[m] for m in tally.acked)
        if answered and await asyncio.to_thread(_quiet, home / "roost.db"):
            return True
        await asyncio.sleep(0.2)
    return False


def _quiet(db: Path) -> bool:
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as connection:
        envelopes = connection.execute(
            "select count(*) from envelopes where status = 'pending'"
        ).fetchone()[0]
        deliveries = connection.execute(
            "select count(*) from deliveries where status = 'pending'"
        ).fetchone()[0]
    return bool(envelopes == 0 and deliveries == 0)


def _stored_user_texts(db: Path, seed: int) -> Counter[str]:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        rows = connection.execute(
            "select text, count(*) from messages where role = 'user' and text like ? group by text",
            (f"seed{seed}-m%",),
        ).fetchall()
    return Counter({str(text): int(count) for text, count in rows})


def _figures(
    args: argparse.Namespace,
    tally: Tally,
    server: Server,
    kills: int,
    settled: bool,
    elapsed: float,
) -> dict[str, Any]:
    stored = _stored_user_texts(server.home / "roost.db", args.seed)
    acked_texts = set(tally.acked.values())
    duplicate_users = sum(count - 1 for count in stored.values() if count > 1)
    stored_unacked = [text for text in tally.unacked if stored[text]]
    lost = [text for text in acked_texts if not stored[text]]
    answered = sum(1 for message_id in tally.acked if tally.replies[message_id])
    same_delivery_twice = sum(count - 1 for count in tally.deliveries.values() if count > 1)
    two_deliveries = sum(len(ids) - 1 for ids in tally.reply_deliveries.values() if len(ids) > 1)
    return {
        "seed": args.seed,
        "messages": args.messages,
        "clients": args.clients,
        "kills": kills,
        "starts": server.starts,
        "sent": tally.sent,
        "acknowledged": len(tally.acked),
        "answered": answered,
        "acknowledged_unanswered": len(tally.acked) - answered,
        "acknowledged_not_stored": len(lost),
        "ack_lost_in_a_kill": len(tally.unacked),
        "ack_lost_but_stored": len(stored_unacked),
        "refused": len(tally.refused),
        "duplicate_user_messages_stored": duplicate_users,
        "duplicate_replies_delivered": same_delivery_twice + two_deliveries,
        "same_delivery_received_twice": same_delivery_twice,
        "messages_with_two_deliveries": two_deliveries,
        "ack_ms": summary([seconds * 1000 for seconds in tally.ack_s or [0.0]]),
        "settled": settled,
        "elapsed_s": round(elapsed, 1),
    }


class _SlowFake:
    """The fake LLM, answering each call after a random delay (so kills land in turns)."""

    @staticmethod
    def serve(latency: float, seed: int) -> int:
        from tests.fakes.llm_server import FakeLLM

        rng = random.Random(seed)
        lock = threading.Lock()

        class Slow(FakeLLM):
            async def next_answer(self, record: Any) -> Any:
                answer = await super().next_answer(record)
                with lock:
                    delay = rng.uniform(0, 2 * latency)
                await asyncio.sleep(delay)
                return answer

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with Slow() as llm:
            llm.max_recorded = 100
            print(llm.url, flush=True)
            while not stop.wait(0.5):
                pass
        return 0


def _slow_fake_process(latency: float, seed: int) -> AbstractContextManager[str]:
    command = [sys.executable, "-m", "bench.kill_chaos", "--serve-fake", str(latency)]
    return fake_llm_process([*command, "--seed", str(seed)])


def _config(directory: Path, url: str) -> None:
    write_gateway_config(directory, url, TOKEN, [AGENT])


def _summary(f: dict[str, Any]) -> str:
    return (
        f"kill_chaos seed {f['seed']}: {f['kills']} kills; {f['acknowledged']} of {f['sent']} "
        f"messages acknowledged, {f['answered']} answered "
        f"({f['acknowledged_unanswered']} unanswered, {f['acknowledged_not_stored']} lost); "
        f"{f['ack_lost_in_a_kill']} acks lost in a kill ({f['ack_lost_but_stored']} of them "
        f"stored); duplicate user messages stored: {f['duplicate_user_messages_stored']}; "
        f"duplicate replies delivered: {f['duplicate_replies_delivered']}; "
        f"{f['elapsed_s']} s{'' if f['settled'] else ' (DID NOT SETTLE)'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rate", type=float, default=8.0, help="messages/s per client")
    parser.add_argument("--min-uptime", type=float, default=0.3, help="s before a kill")
    parser.add_argument("--max-uptime", type=float, default=4.0, help="s before a kill")
    parser.add_argument("--latency", type=float, default=0.05, help="mean model call, s")
    parser.add_argument("--serve-fake", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake is not None:
        sys.exit(_SlowFake.serve(args.serve_fake, args.seed))
    with _slow_fake_process(args.latency, args.seed) as url, roost_home(url) as (directory, env):
        _config(directory, url)
        env = {**env, "PYTHONPATH": str(REPO / "src")}
        server = Server(directory, env)
        try:
            figures = asyncio.run(_chaos(args, server))
        finally:
            server.kill()
        if not figures["settled"]:
            tail = (directory / "roost.log").read_text(errors="replace")[-3000:]
            print(tail, file=sys.stderr)
    emit(figures, _summary(figures))
    bad = (
        figures["acknowledged_unanswered"]
        + figures["acknowledged_not_stored"]
        + figures["duplicate_user_messages_stored"]
    )
    sys.exit(1 if bad or not figures["settled"] else 0)


if __name__ == "__main__":
    main()

"""A WebSocket client that sends requests and never reads: the gateway's memory.

The client asks `sessions.history` of a session holding ~1 MB of incompressible text
(so each answer is ~1 MB on the wire) as fast as the socket takes it, and never reads.
Figures: resident memory of `roost run` before, the peak while the client is connected
(sampled every 20 ms), and after the gateway dropped it; how long that took and how.

    python -m bench.slow_reader [--requests 1200] [--text-kb 500]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import threading
import time
import urllib.request

import websockets
from websockets.exceptions import ConnectionClosed

from bench.common import REPO, emit, fake_llm_process, roost_home
from bench.gateway import TOKEN, _config, _rss_mb, roost_run

AGENT = "agent0"


def _post(http: str, path: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(
        f"{http}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()


def _connections(http: str) -> int:
    with urllib.request.urlopen(f"{http}/healthz", timeout=5) as response:
        return int(json.loads(response.read())["components"]["gateway"]["connections"])


class Peak:
    """The highest RSS of ``pid`` seen by a sampling thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.mb, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.mb = max(self.mb, _rss_mb(self.pid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.mb


async def _never_read(http: str, requests: int) -> tuple[float, int | None, str]:
    """Send the requests without reading; wait until the gateway drops the client."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    host, port = http.removeprefix("http://").rsplit(":", 1)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    ws_url = http.replace("http://", "ws://") + f"/ws?token={TOKEN}&client=slow"
    started = time.perf_counter()
    async with websockets.connect(ws_url, sock=sock, max_queue=1, max_size=None) as ws:
        params = {"agent": AGENT, "session": "big"}
        for number in range(requests):
            frame = {"type": "req", "id": number, "method": "sessions.history", "params": params}
            try:
                await asyncio.wait_for(ws.send(json.dumps(frame)), 5)
            except (TimeoutError, ConnectionClosed):
                break  # the gateway stopped reading (backpressure) or closed
        while await asyncio.to_thread(_connections, http) > 0:
            if time.perf_counter() - started > 120:
                raise RuntimeError("the gateway did not drop the client within 120 s")
            await asyncio.sleep(0.05)
        dropped_s = time.perf_counter() - started
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            return dropped_s, code, closed.rcvd.reason if closed.rcvd else ""
        except TimeoutError:
            return dropped_s, None, "no close frame within 10 s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1200)
    parser.add_argument("--text-kb", type=int, default=500)
    args = parser.parse_args()
    with fake_llm_process() as url, roost_home(url) as (directory, env):
        _config(directory, url)
        env = {**env, "PYTHONPATH": str(REPO / "src")}
        with roost_run(directory, env) as (process, http, _):
            text = base64.b64encode(os.urandom(args.text_kb * 768)).decode()
            _post(http, f"/api/agents/{AGENT}/messages", {"text": text, "session": "big"})
            time.sleep(1.0)
            before_mb = _rss_mb(process.pid)
            peak = Peak(process.pid)
            dropped_s, code, reason = asyncio.run(_never_read(http, args.requests))
            peak_mb = peak.stop()
            time.sleep(2.0)
            after_mb = _rss_mb(process.pid)
    figures = {
        "rss_before_mb": round(before_mb, 1),
        "rss_peak_mb": round(peak_mb, 1),
        "rss_after_drop_mb": round(after_mb, 1),
        "dropped_after_s": round(dropped_s, 2),
        "close_code": code,
        "close_reason": reason,
        "answer_kb": round(2 * len(text) / 1024),
        "requests": args.requests,
    }
    emit(
        figures,
        f"slow reader: RSS {before_mb:.0f} MB before, {peak_mb:.0f} MB peak, {after_mb:.0f} MB "
        f"2 s after the gateway dropped the client ({dropped_s:.1f} s, close {code} {reason!r}); "
        f"answers ~{2 * len(text) / 1024:.0f} KB each",
    )


if __name__ == "__main__":
    main()

"""The OpenAI-compatible API against the WebSocket, through a real `roost run` and the fake LLM.

Figures (issue #15 target in brackets):
- round trip of a turn through ``POST /v1/chat/completions`` (not streamed), against a
  WebSocket ``chat.send`` round trip (to its ``chat.reply``) in the same conditions
  [within 1 ms of it]; the two alternate, each in a session of its own, and the gap is
  the median of the paired differences (robust to a machine busy with other work)
- time to the first text of a streamed completion (``stream: true``) against the time
  to the first ``chat.delta`` of a ``chat.send`` [within 1 ms]
- a front end resending its growing history (the session derived, no header), and the
  official ``openai`` SDK's round trip (its own parsing included), for information

    python -m bench.openai_compat [--turns 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import websockets

from bench.common import emit, fake_llm_process, roost_home, summary, write_gateway_config
from bench.gateway import roost_run

TOKEN = "bench-token"
WARM_UP = 20
FRONT_END_TURNS = 20
"""Turns per front-end conversation before it starts a new one (the resent history grows)."""


def _config(directory: Path, url: str) -> None:
    write_gateway_config(directory, url, TOKEN, ["assistant"])


class WsTurns:
    """``chat.send`` on one connection: seconds to the first delta and to the reply."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.next_id = 0

    async def turn(self, session: str) -> tuple[float, float]:
        self.next_id += 1
        request = {
            "type": "req",
            "id": str(self.next_id),
            "method": "chat.send",
            "params": {"agent": "assistant", "text": "ping", "session": session},
        }
        started = time.perf_counter()
        first: float | None = None
        await self.ws.send(json.dumps(request))
        while True:
            frame = json.loads(await self.ws.recv())
            if frame.get("type") == "res" and not frame.get("ok"):
                raise RuntimeError(f"chat.send failed: {frame}")
            event = frame.get("event")
            if event == "chat.delta" and first is None:
                first = time.perf_counter() - started
            if event in ("chat.reply", "chat.error"):
                if event == "chat.error":
                    raise RuntimeError(f"turn failed: {frame['data']}")
                done = time.perf_counter() - started
                return (first if first is not None else done), done


class RawHttp:
    """A minimal HTTP/1.1 client on one keep-alive connection: its own cost is a few
    microseconds (as the WebSocket client's), so the figures are Roost's, not httpx's."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, http_url: str) -> RawHttp:
        host, _, port = http_url.removeprefix("http://").partition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def post(self, path: str, body: dict[str, Any], session: str | None) -> bytes:
        """One request; its whole body (by Content-Length, or every chunk of a stream)."""
        chunks = [chunk async for chunk in self.chunks(path, body, session)]
        return b"".join(chunks)

    async def chunks(
        self, path: str, body: dict[str, Any], session: str | None
    ) -> AsyncIterator[bytes]:
        """Send one request; yield its body as it arrives."""
        data = json.dumps(body).encode()
        extra = f"X-Roost-Session: {session}\r\n" if session else ""
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n{extra}\r\n".encode()
            + data
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"request failed: {head!r}")
        length = re.search(rb"(?i)content-length: (\d+)", head)
        if length:
            yield await self.reader.readexactly(int(length.group(1)))
            return
        while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
            yield (await self.reader.readexactly(size + 2))[:-2]
        await self.reader.readexactly(2)  # the empty line after the last chunk

    async def first_text(
        self, path: str, body: dict[str, Any], session: str
    ) -> tuple[float, float]:
        """A streamed completion: seconds to the first chunk with text, and to its end."""
        started = time.perf_counter()
        first: float | None = None
        async for chunk in self.chunks(path, body, session):
            if first is None and b'"content":"' in chunk.replace(b'"content":""', b""):
                first = time.perf_counter() - started
        done = time.perf_counter() - started
        return (first if first is not None else done), done

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


PING = {"model": "assistant", "messages": [{"role": "user", "content": "ping"}]}
COMPLETIONS = "/v1/chat/completions"
FIGURES = (
    "ws_reply",
    "ws_first_delta",
    "http_whole",
    "http_stream_first",
    "http_stream_done",
    "rest_whole",
    "front_end",
    "sdk_whole",
)


async def _measure(http_url: str, ws_url: str, turns: int) -> dict[str, list[float]]:
    from openai import AsyncOpenAI

    samples: dict[str, list[float]] = {name: [] for name in FIGURES}
    ws = await websockets.connect(f"{ws_url}?token={TOKEN}&client=bench", compression=None)
    json.loads(await ws.recv())  # hello
    sdk = AsyncOpenAI(base_url=f"{http_url}/v1", api_key=TOKEN, max_retries=0)
    raw = await RawHttp.connect(http_url)
    ws_turns = WsTurns(ws)
    conversation: list[dict[str, str]] = []
    for index in range(WARM_UP + turns):
        # Alternating, so a busy moment of the machine hits every figure alike.
        first, done = await ws_turns.turn("ws")
        started = time.perf_counter()
        await raw.post(COMPLETIONS, PING, "http")
        whole = time.perf_counter() - started
        stream_first, stream_done = await raw.first_text(
            COMPLETIONS, {**PING, "stream": True}, "http-stream"
        )
        started = time.perf_counter()
        await raw.post("/api/agents/assistant/messages", {"text": "ping", "session": "rest"}, None)
        rest = time.perf_counter() - started
        if len(conversation) >= 2 * FRONT_END_TURNS:
            conversation = []
        conversation.append({"role": "user", "content": f"question {len(conversation)}"})
        started = time.perf_counter()
        reply = await raw.post(COMPLETIONS, {"model": "assistant", "messages": conversation}, None)
        front = time.perf_counter() - started
        answer = json.loads(reply)["choices"][0]["message"]["content"]
        conversation.append({"role": "assistant", "content": answer})
        started = time.perf_counter()
        await sdk.chat.completions.create(
            model="assistant",
            messages=[{"role": "user", "content": "ping"}],
            extra_headers={"X-Roost-Session": "sdk"},
        )
        sdk_whole = time.perf_counter() - started
        if index >= WARM_UP:
            values = (done, first, whole, stream_first, stream_done, rest, front, sdk_whole)
            for name, value in zip(FIGURES, values, strict=True):
                samples[name].append(value)
    await sdk.close()
    await raw.close()
    await ws.close()
    return samples


def _paired_gap(http: list[float], ws: list[float]) -> float:
    return statistics.median(a - b for a, b in zip(http, ws, strict=True)) * 1000


def _ms(values: dict[str, float]) -> dict[str, float]:
    return {key: round(value * 1000, 3) if key != "n" else value for key, value in values.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    args = parser.parse_args()
    with fake_llm_process() as url, roost_home(url) as (directory, env):
        _config(directory, url)
        with roost_run(directory, env) as (_, http_url, _started):
            endpoint: dict[str, Any] = json.loads(
                (directory / "home" / "gateway.json").read_text(encoding="utf-8")
            )
            samples = asyncio.run(_measure(http_url, str(endpoint["ws"]), args.turns))
    figures = {name: _ms(summary(values)) for name, values in samples.items()}
    # Paired: each turn's difference to the WebSocket turn just before it, so a busy
    # moment of the machine (which moves both) cancels out; the median of those.
    whole_gap = _paired_gap(samples["http_whole"], samples["ws_reply"])
    first_gap = _paired_gap(samples["http_stream_first"], samples["ws_first_delta"])
    figures["gap_ms"] = {
        "whole_paired_median": round(whole_gap, 3),
        "first_text_paired_median": round(first_gap, 3),
        "target": 1.0,
    }
    emit(
        {"unit": "ms", **figures},
        f"openai_compat: /v1/chat/completions {figures['http_whole']['median']:.2f} ms vs "
        f"WS chat.send {figures['ws_reply']['median']:.2f} ms (gap {whole_gap:+.2f} ms); "
        f"first text {figures['http_stream_first']['median']:.2f} vs "
        f"{figures['ws_first_delta']['median']:.2f} ms (gap {first_gap:+.2f} ms); "
        f"front end {figures['front_end']['median']:.2f} ms, SDK "
        f"{figures['sdk_whole']['median']:.2f} ms [target: gap <= 1 ms]",
    )


if __name__ == "__main__":
    main()

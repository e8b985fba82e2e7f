"""The fake's HTTP side: a Starlette app served by uvicorn on 127.0.0.1 in a thread.

The server runs its own event loop in a background thread, so tests (sync or
async) and the SDKs under test talk to it exactly as to the real APIs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.fake_llm import anthropic_wire, openai_wire
from tests.fakes.fake_llm.prompt_cache import TooManyBreakpoints
from tests.fakes.fake_llm.script import (
    Api,
    FailureAnswer,
    LLMScript,
    RecordedRequest,
    prompt_tokens,
)

_START_TIMEOUT_S = 10.0


class FakeLLM(LLMScript):
    """A scripted, recording fake of the Anthropic and OpenAI chat APIs on 127.0.0.1."""

    def __init__(self, port: int = 0) -> None:
        super().__init__()
        self._port = port
        self.url = ""
        self.openai_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def start(self) -> FakeLLM:
        """Bind 127.0.0.1 (port 0 = any free port), start serving, return self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        sock = self._sock = _listening_socket(self._port)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.openai_url = f"{self.url}/v1"

        config = uvicorn.Config(
            self._app(),
            loop="asyncio",
            http="h11",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        server = self._server = uvicorn.Server(config)
        thread = self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fake-llm", daemon=True
        )
        thread.start()
        self._wait_until_started(server, thread)
        return self

    def _wait_until_started(self, server: uvicorn.Server, thread: threading.Thread) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("fake LLM server failed to start")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        server, thread, sock = self._server, self._thread, self._sock
        self._server = self._thread = self._sock = None
        self._stopping.set()  # ends pending delays, so no handler is cancelled mid-sleep
        if server is not None:
            server.should_exit = True
            server.force_exit = True
        if thread is not None:
            thread.join(timeout=5)
        if sock is not None:
            sock.close()

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/messages", self._anthropic, methods=["POST"]),
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/chat/completions", self._openai, methods=["POST"]),
                Route("/health", self._health, methods=["GET"]),
            ]
        )

    async def _health(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def _anthropic(self, request: Request) -> Response:
        record = await _record(request, "anthropic")
        try:
            self.anthropic_cache.check(record.body)
        except TooManyBreakpoints as exc:
            self.record_refused(record)
            return anthropic_wire.respond(record, FailureAnswer(400, str(exc), None))
        answer = await self.next_answer(record)
        if not isinstance(answer, FailureAnswer):  # a failed call caches nothing
            record.prompt = self.anthropic_cache.split(record.body, prompt_tokens(record.raw_body))
        return anthropic_wire.respond(record, answer)

    async def _openai(self, request: Request) -> Response:
        record = await _record(request, "openai")
        answer = await self.next_answer(record)
        if not isinstance(answer, FailureAnswer):
            record.prompt = self.openai_cache.split(record.body, prompt_tokens(record.raw_body))
        return openai_wire.respond(record, answer, stream_usage=self.openai_stream_usage)


def _listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this. Without it, uvicorn's separate header and body writes
    # meet the client's delayed ACK and a request takes ~40 ms instead of ~1 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


async def _record(request: Request, api: Api) -> RecordedRequest:
    raw = await request.body()
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = None
    return RecordedRequest(
        path=request.url.path,
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
        raw_body=raw,
        api=api,
        stream=bool(body.get("stream")) if isinstance(body, dict) else False,
    )


@contextlib.contextmanager
def running_fake_llm(port: int = 0) -> Iterator[FakeLLM]:
    """Start a :class:`FakeLLM` for the duration of a ``with`` block."""
    llm = FakeLLM(port).start()
    try:
        yield llm
    finally:
        llm.stop()


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT, after printing the URL on the first stdout line."""
    parser = argparse.ArgumentParser(description="Fake Anthropic/OpenAI server on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free)")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with running_fake_llm(args.port) as llm:
        llm.max_recorded = 100  # benchmarks send tens of thousands; nobody reads them
        print(llm.url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0

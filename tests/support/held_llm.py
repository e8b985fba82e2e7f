"""Holding the fake LLM's answers until the test says so: "a turn is going on" as a state
the test controls, instead of a delay that a busy machine may outlast."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.fakes.fake_llm.script import RecordedRequest, ScriptedAnswer
from tests.fakes.llm_server import FakeLLM

HOLD_LIMIT_S = 60.0
"""A held request is answered after this anyway, so a test that fails never hangs."""


@contextmanager
def held_answers(fake_llm: FakeLLM) -> Iterator[threading.Event]:
    """Answers wait until the yielded event is set (it is set on leaving the block).

    Only answers nothing was queued for are held (the echo, or an earlier responder's),
    and one at a time: the fake server's loop waits with the held request, so use it for
    one turn going on. Requests are recorded on arrival (``wait_for_requests`` sees them).
    """
    release = threading.Event()
    queued = fake_llm.responder

    def respond(request: RecordedRequest) -> ScriptedAnswer | None:
        release.wait(HOLD_LIMIT_S)
        return queued(request) if queued is not None else None

    fake_llm.responder = respond
    try:
        yield release
    finally:
        release.set()
        fake_llm.responder = queued

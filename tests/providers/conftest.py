"""Fixtures for the provider tests: one fake LLM server per module, each backend in turn."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from roost.providers.base import Provider
from roost.providers.factory import create_provider
from tests.fakes.llm_server import FakeLLM, running_fake_llm
from tests.providers.support import KINDS, provider_config


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLM]:
    with running_fake_llm() as llm:
        yield llm


@pytest.fixture
def llm(server: FakeLLM) -> Iterator[FakeLLM]:
    server.reset()
    server.openai_stream_usage = True
    yield server
    server.reset()


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def provider(kind: str, llm: FakeLLM) -> AsyncIterator[Provider]:
    backend = create_provider(
        "claude" if kind == "anthropic" else "gpt", provider_config(kind, llm)
    )
    yield backend
    await backend.aclose()

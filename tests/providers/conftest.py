"""Fixtures for the provider tests: the fake LLM server, each backend in turn."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from roost.providers.base import Provider
from roost.providers.factory import create_provider
from tests.fakes.llm_server import FakeLLM
from tests.providers.support import KINDS, provider_config


@pytest.fixture
def llm(fake_llm_server: FakeLLM) -> Iterator[FakeLLM]:
    """The session's fake LLM (see tests/conftest.py), reset around each test."""
    fake_llm_server.reset()
    yield fake_llm_server
    fake_llm_server.reset()


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

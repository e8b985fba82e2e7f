"""Fixtures for the provider tests: the fake LLM server, each backend in turn."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from roost.providers.base import Provider
from roost.providers.factory import create_provider
from tests.fakes.llm_server import FakeLLM
from tests.providers.support import KINDS, provider_config


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def provider(kind: str, fake_llm: FakeLLM) -> AsyncIterator[Provider]:
    backend = create_provider(
        "claude" if kind == "anthropic" else "gpt", provider_config(kind, fake_llm)
    )
    yield backend
    await backend.aclose()

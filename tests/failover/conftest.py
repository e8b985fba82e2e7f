"""An App whose assistant (Anthropic API, provider ``claude``) falls over to ``gpt``
(OpenAI API) then ``claude/claude-sonnet-4-5``, on the fake LLM, with SDK retries off."""

from __future__ import annotations

import os
import textwrap
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select

from roost.app import App
from roost.config.loader import load_settings
from roost.config.settings import Settings
from roost.store.tables import model_calls
from roost.testing import ManualClock
from tests.conftest import ConfigWriter
from tests.fakes.llm_server import FakeLLM
from tests.gateway.conftest import start_gateway  # noqa: F401  (a fixture the tests here use)


def failover_yaml(fake: FakeLLM, home: Path, extra: str = "") -> str:
    return textwrap.dedent(
        f"""\
        home: {home}
        providers:
          claude: {{type: anthropic, base_url: "{fake.url}", api_key: test-key, max_retries: 0}}
          gpt: {{type: openai, base_url: "{fake.openai_url}", api_key: test-key, max_retries: 0,
                 timeout_s: 5}}
        fallbacks: [gpt/gpt-5-mini, claude/claude-sonnet-4-5]
        circuit_breaker: {{failures_to_open: 2, cooldown_s: 60}}
        agents:
          assistant:
            model: claude/claude-haiku-4-5
            system: You are a test assistant.
        """
    ) + textwrap.dedent(extra)


@pytest.fixture
def failover_settings(fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path) -> Settings:
    return load_settings(write_config(failover_yaml(fake_llm, tmp_path / "home")), env=os.environ)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 1, tzinfo=UTC))


AppFactory = Callable[..., Any]


@pytest.fixture
async def failover_app(failover_settings: Settings, clock: ManualClock) -> AsyncIterator[App]:
    app = App(failover_settings, clock=clock)
    await app.start()
    yield app
    await app.stop(grace_s=1)


async def ledger_rows(app: App) -> list[dict[str, Any]]:
    """Every ledger row, oldest first: provider, model, role, status, duration_ms."""
    columns = (
        model_calls.c.provider,
        model_calls.c.model,
        model_calls.c.role,
        model_calls.c.status,
        model_calls.c.duration_ms,
    )

    def read(connection: Connection) -> list[dict[str, Any]]:
        query = select(*columns).order_by(model_calls.c.id)
        return [dict(row._mapping) for row in connection.execute(query)]

    return await app.db.read(read)


def models_asked(fake: FakeLLM) -> list[str]:
    return [str(request.body["model"]) for request in fake.requests]

"""Helpers shared by the provider tests."""

from __future__ import annotations

from typing import Any

from roost.config.schema import ProviderConfig
from roost.providers.base import (
    Message,
    ModelRequest,
    ToolSpec,
)
from tests.fakes.llm_server import FakeLLM

API_KEY = "sk-test-SECRET-0123456789"
KINDS = ["anthropic", "openai"]

TOOLS = (
    ToolSpec(
        "read_file",
        "Read a text file from the workspace.",
        {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    ),
    ToolSpec(
        "write_file",
        "Write a text file in the workspace.",
        {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
    ),
    ToolSpec(
        "list_files",
        "List files in a workspace directory.",
        {"type": "object", "properties": {"path": {"type": "string"}}},
    ),
)


def make_request(*messages: Message, tools: tuple[ToolSpec, ...] = (), **kw: Any) -> ModelRequest:
    return ModelRequest(
        model="test-model",
        system=kw.pop("system", "You are a test."),
        messages=messages or (Message("user", "hello"),),
        tools=tools,
        **kw,
    )


def provider_config(kind: str, fake_llm: FakeLLM, **kw: Any) -> ProviderConfig:
    base_url = fake_llm.url if kind == "anthropic" else fake_llm.openai_url
    settings: dict[str, Any] = {"api_key": API_KEY, "max_retries": 0, "timeout_s": 5.0}
    settings.update(kw)
    return ProviderConfig(type=kind, base_url=base_url, **settings)


class Collector:
    def __init__(self) -> None:
        self.deltas: list[str] = []

    async def __call__(self, text: str) -> None:
        self.deltas.append(text)

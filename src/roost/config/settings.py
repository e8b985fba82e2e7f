"""The resolved configuration the rest of Roost runs on.

``RoostConfig`` (schema.py) is what the file says; ``Settings`` is what it means
once defaults, the environment and relative paths are applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from roost.config.mcp_servers import McpServerConfig
from roost.config.schedules import ScheduleConfig
from roost.config.schema import (
    BudgetConfig,
    CircuitBreakerConfig,
    FetchConfig,
    GatewayConfig,
    MemoryConfig,
    ModelPrice,
    ProviderConfig,
    SchedulerConfig,
    TelegramConfig,
    WebSearchConfig,
)
from roost.config.shell import ApprovalsConfig, ShellConfig, ShellPolicyConfig

DEFAULT_AGENT = "assistant"
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"
DEFAULT_OPENAI_MODEL = "gpt-5-mini"
DEFAULT_LOCAL_MODEL = "llama3.2"

NO_PROVIDER_REPLY = (
    "No model provider is configured: set ANTHROPIC_API_KEY, OPENAI_API_KEY or "
    "ROOST_LOCAL_BASE_URL, or run `roost init` and add a provider to roost.yaml."
)
"""What an agent without a provider answers, and what `roost run` says about it."""


def default_system_prompt(agent: str) -> str:
    return f"You are {agent}, an assistant running in Roost. Be concise."


@dataclass(frozen=True)
class AgentSettings:
    name: str
    provider: str | None
    """Config name of the provider; ``None`` when no provider is configured at all."""
    model: str
    """Model id as the provider knows it, e.g. ``claude-haiku-4-5``."""
    system: str
    tools: tuple[str, ...]
    workspace: Path
    max_context_tokens: int = 32_000
    max_tool_rounds: int = 20
    max_tokens: int = 4096
    temperature: float | None = None
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    fallbacks: tuple[tuple[str, str], ...] = ()
    """(provider, model) pairs tried in order when the model's provider has an outage."""
    planner_provider: str | None = None
    """Config name of the planner model's provider (``planner_model`` is set with it)."""
    planner_model: str | None = None
    """The strong model id the ``plan`` tool asks; ``None``: no plan tool."""
    compaction: bool = True
    """Summarise what scrolls out of ``max_context_tokens`` (``agents.<n>.compaction``)."""
    openai_system: str = "ignore"
    """``ignore`` or ``append``: a system message from an OpenAI-compatible client."""
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    shell: ShellPolicyConfig = field(default_factory=ShellPolicyConfig)

    @property
    def model_ref(self) -> str:
        """``provider/model`` as written in the config."""
        return f"{self.provider or 'none'}/{self.model}"


@dataclass(frozen=True)
class Settings:
    home: Path
    config_path: Path | None
    agents: dict[str, AgentSettings]
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    prices: dict[str, ModelPrice] = field(default_factory=dict)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    """Caps on the whole process's spend, across agents."""
    store_url: str = ""
    log_level: str = "INFO"
    log_format: str = "text"
    """The log file's format: "text" or "json" (``logging.format``)."""
    gateway: GatewayConfig = field(default_factory=GatewayConfig)
    max_delegation_depth: int = 3
    max_concurrent_turns: int = 32
    telegram: TelegramConfig | None = None
    schedules: dict[str, ScheduleConfig] = field(default_factory=dict)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    circuit_breaker: CircuitBreakerConfig = field(default_factory=CircuitBreakerConfig)
    mcp_servers: dict[str, McpServerConfig] = field(default_factory=dict)
    web_search: WebSearchConfig | None = None
    """``web_search``'s backend; ``None``: the tool is not offered."""
    shell: ShellConfig = field(default_factory=ShellConfig)
    approvals: ApprovalsConfig = field(default_factory=ApprovalsConfig)
    config_sha256: str | None = None
    """SHA-256 of the config file as it was read (see ``roost.config.fingerprint``)."""

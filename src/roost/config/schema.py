"""The configuration file's schema. Key names here are a public contract."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from roost.config.mcp_servers import McpServerConfig
from roost.config.origins import normalize_origin
from roost.config.schedules import ScheduleConfig
from roost.config.shell import ApprovalsConfig, ShellConfig, ShellPolicyConfig


class _Strict(BaseModel):
    # Unknown keys are almost always typos; refusing them names the key for the user.
    model_config = ConfigDict(extra="forbid")


class ProviderConfig(_Strict):
    """One model backend. ``openai`` covers any OpenAI-compatible server."""

    type: Literal["anthropic", "openai"]
    api_key: SecretStr | None = None
    base_url: str | None = None
    max_retries: int = Field(default=3, ge=0, le=10)
    timeout_s: float = Field(default=120.0, gt=0)
    prompt_cache: bool = True
    """Anthropic: mark cache breakpoints (tools, system, conversation); off sends none."""


class ModelPrice(_Strict):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)


class BudgetConfig(_Strict):
    """Spend caps in USD; a model call is refused once spending has reached a cap."""

    daily_usd: float | None = Field(default=None, gt=0)
    monthly_usd: float | None = Field(default=None, gt=0)
    on_exceed: Literal["stop", "downgrade", "warn"] = "stop"
    """At a cap: refuse calls, move to the cheapest configured model, or only tell the owner."""


class MemoryConfig(_Strict):
    """An agent's long-term notes (the remember, recall and forget tools)."""

    auto_recall: int = Field(default=0, ge=0, le=20)
    """Notes most relevant to a new message added to it (marked as notes); 0: none."""
    max_notes: int = Field(default=1000, ge=1, le=100_000)
    """Notes the agent may keep; remember refuses past it until it forgets some."""


class FetchConfig(_Strict):
    """``http_fetch`` for one agent: what it may reach besides public addresses, and caps."""

    allow_private: list[str] = Field(default_factory=list)
    """Host names, addresses or networks (``nas.local``, ``192.168.1.10``, ``10.0.0.0/8``)."""
    max_bytes: int = Field(default=1_000_000, ge=1_000, le=50_000_000)
    timeout_s: float = Field(default=20.0, gt=0, le=300)


class WebSearchConfig(_Strict):
    """The backend ``web_search`` asks; without this section the tool is not offered."""

    backend: Literal["searxng", "brave"]
    url: str | None = None
    """SearXNG: its search endpoint (``http://host:8888/search``, JSON enabled); Brave: optional."""
    api_key: SecretStr | None = None
    """Brave Search API subscription token (e.g. ``${BRAVE_API_KEY}``)."""
    timeout_s: float = Field(default=10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _backend_has_what_it_needs(self) -> WebSearchConfig:
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("url should start with http:// or https://")
        if self.backend == "searxng" and not self.url:
            raise ValueError("backend searxng needs url (its /search endpoint)")
        if self.backend == "brave" and not (self.api_key and self.api_key.get_secret_value()):
            raise ValueError("backend brave needs api_key (is BRAVE_API_KEY set?)")
        return self


def _check_model_ref(value: str) -> str:
    provider, _, model_id = value.partition("/")
    if not provider or not model_id:
        raise ValueError(
            f"'{value}' should be provider-name/model-id, for example claude/claude-haiku-4-5"
        )
    return value


class CircuitBreakerConfig(_Strict):
    """When a provider that keeps failing is skipped, and for how long."""

    failures_to_open: int = Field(default=3, ge=1, le=1000)
    cooldown_s: float = Field(default=60.0, gt=0, le=86_400)


class AgentConfig(_Strict):
    model: str
    fallbacks: list[str] | None = Field(default=None, max_length=10)
    """Models tried in order when ``model`` fails with an outage; ``None``: the top-level list."""
    planner_model: str | None = None
    """A strong model (provider/model) the ``plan`` tool asks; routine work stays on ``model``."""
    system: str | None = None
    system_file: Path | None = None
    tools: list[str] = Field(default_factory=lambda: ["read_file", "write_file", "list_files"])
    workspace: Path | None = None
    max_context_tokens: int = Field(default=32_000, ge=1_000)
    max_tool_rounds: int = Field(default=20, ge=1, le=200)
    max_tokens: int = Field(default=4096, ge=16)
    temperature: float | None = Field(default=None, ge=0, le=2)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    compaction: Literal["auto", "off"] = "auto"
    """``auto``: history beyond max_context_tokens is summarised; ``off``: it is dropped."""

    @field_validator("fallbacks")
    @classmethod
    def _fallbacks_have_providers(cls, value: list[str] | None) -> list[str] | None:
        return [_check_model_ref(ref) for ref in value] if value is not None else None

    @field_validator("compaction", mode="before")
    @classmethod
    def _yaml_off_is_false(cls, value: object) -> object:
        # YAML reads a bare `off` as false (and `on` as true): take them as meant.
        if isinstance(value, bool):
            return "auto" if value else "off"
        return value

    openai_system: Literal["ignore", "append"] = "ignore"
    """What a ``system`` message from an OpenAI-compatible client (/v1/chat/completions)
    does: nothing (logged once), or it is added to the turn's input as context."""
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    shell: ShellPolicyConfig = Field(default_factory=ShellPolicyConfig)
    """What the ``shell`` tool may run (docs/tools.md)."""

    @field_validator("model", "planner_model")
    @classmethod
    def _model_has_provider(cls, value: str | None) -> str | None:
        return None if value is None else _check_model_ref(value)


DATABASE_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
"""URL schemes the store runs on → the async driver used for each."""


class StoreConfig(_Strict):
    url: str | None = None
    """SQLAlchemy async URL; default ``sqlite+aiosqlite:///<home>/roost.db``."""

    @field_validator("url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        # Checked here so every command refuses the file alike, before any connects.
        # The message names the scheme only: the rest of a URL may hold a password.
        if value is None:
            return None
        scheme, separator, rest = value.partition("://")
        supported = ", ".join(DATABASE_DRIVERS)
        if not separator:
            raise ValueError(
                "should be a database URL, e.g. sqlite+aiosqlite:///path/roost.db or "
                f"postgresql+asyncpg://user@host/roost (supported: {supported})"
            )
        if scheme not in DATABASE_DRIVERS:
            close = difflib.get_close_matches(scheme, list(DATABASE_DRIVERS), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"unsupported database '{scheme}'{hint} (supported: {supported})")
        return f"{DATABASE_DRIVERS[scheme]}://{rest}"


class GatewayConfig(_Strict):
    """The WebSocket + HTTP server inside `roost run`."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=18790, ge=0, le=65535)
    token: SecretStr | None = None
    """Default: generated on first start into <home>/gateway.token (mode 0600)."""
    max_frame_bytes: int = Field(default=1_048_576, ge=1024)
    send_queue: int = Field(default=1000, ge=10)
    """Events buffered per connection before a client that cannot keep up is dropped."""
    send_queue_bytes: int = Field(default=8 * 1024 * 1024, ge=65_536)
    """Bytes buffered per connection (beside ``send_queue`` frames), same consequence."""
    send_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    """How long an answer may wait for room in a connection's queue before it is dropped."""
    auth_failures_per_minute: int = Field(default=10, ge=1)
    """Per client address; more within 60 s and its failures get 429 for 60 s."""
    auth_failures_per_minute_total: int = Field(default=30, ge=1)
    """From all addresses together, so that varying the source gains no extra guesses."""
    allowed_origins: list[str] = Field(default_factory=list)
    """Web pages (``scheme://host[:port]``) besides the gateway's own that may call it."""
    allowed_hosts: list[str] = Field(default_factory=list)
    """Names clients may reach the gateway by (``Host``), besides addresses and localhost."""

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        return [normalize_origin(value) for value in values]

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value or any(char in value for char in "/:@ ") or value != value.strip():
                raise ValueError(f"{value!r} should be a host name, like roost.example.com")
        return [value.lower().rstrip(".") for value in values]


class TelegramGroupsConfig(_Strict):
    allowed: list[int] = Field(default_factory=list)
    """Group chat ids the bot acts in; every other group is ignored."""
    require_mention: bool = True


_SECRET_CHARS = re.compile(r"[A-Za-z0-9_-]+")
_SECRET_MAX = 256


class TelegramWebhookConfig(_Strict):
    """Receive updates by webhook (served by the gateway) instead of long polling."""

    url: str
    secret: SecretStr
    """Telegram's ``secret_token``: 1 to 256 characters of ``A-Z a-z 0-9 _ -``."""
    path: str = "/telegram/webhook"

    @field_validator("secret")
    @classmethod
    def _secret_is_usable(cls, value: SecretStr) -> SecretStr:
        # An empty secret would let anyone post updates as the owner (an empty expected
        # header compares equal to a missing one). The message never echoes the value.
        secret = value.get_secret_value()
        if not secret:
            raise ValueError(
                "is empty (is TELEGRAM_WEBHOOK_SECRET set to nothing?); use 1 to 256 "
                "characters of A-Z a-z 0-9 _ -, e.g. from `openssl rand -hex 32`"
            )
        if len(secret) > _SECRET_MAX or not _SECRET_CHARS.fullmatch(secret):
            raise ValueError(
                "must be 1 to 256 characters of A-Z a-z 0-9 _ - (Telegram's rule); this one "
                f"has {len(secret)} characters"
                + ("" if _SECRET_CHARS.fullmatch(secret) else " and others than those")
            )
        return value


class TelegramRateLimitConfig(_Strict):
    """Outgoing messages kept within Telegram's documented limits before it answers 429."""

    per_chat_per_s: float = Field(default=1.0, gt=0)
    per_group_per_min: float = Field(default=20.0, gt=0)
    global_per_s: float = Field(default=30.0, gt=0)
    burst: int = Field(default=3, ge=1, le=100)
    """Messages a chat (or group) may get at once before its rate applies."""


class TelegramConfig(_Strict):
    token: SecretStr
    api_base_url: str = "https://api.telegram.org"
    allowed_users: list[int | str] = Field(default_factory=list)
    """User ids or @usernames; nobody else reaches an agent (empty: nobody)."""
    default_agent: str | None = None
    groups: TelegramGroupsConfig = Field(default_factory=TelegramGroupsConfig)
    webhook: TelegramWebhookConfig | None = None
    progress: bool = False
    """Edit one status message with tool names while a long turn runs."""
    poll_timeout_s: int = Field(default=30, ge=1, le=50)
    rate_limit: TelegramRateLimitConfig = Field(default_factory=TelegramRateLimitConfig)


class SchedulerConfig(_Strict):
    alert_to: list[str] | None = None
    """Where failing jobs are reported; default: the first allowed Telegram user."""
    failures_before_alert: int = Field(default=2, ge=1)


class LoggingConfig(_Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"
    """The log file's format: readable lines, or one JSON object per line (`roost logs`)."""


class RoostConfig(_Strict):
    home: Path | None = None
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, ModelPrice] = Field(default_factory=dict)
    agents: dict[str, AgentConfig] = Field(default_factory=dict)
    fallbacks: list[str] = Field(default_factory=list, max_length=10)
    """The agents' fallback models unless an agent sets its own ``fallbacks``."""
    circuit_breaker: CircuitBreakerConfig = Field(default_factory=CircuitBreakerConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    telegram: TelegramConfig | None = None
    schedules: dict[str, ScheduleConfig] = Field(default_factory=dict)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    mcp_servers: dict[str, McpServerConfig] = Field(default_factory=dict)
    web_search: WebSearchConfig | None = None
    shell: ShellConfig = Field(default_factory=ShellConfig)
    approvals: ApprovalsConfig = Field(default_factory=ApprovalsConfig)
    max_delegation_depth: int = Field(default=3, ge=0, le=10)
    max_concurrent_turns: int = Field(default=32, ge=1, le=10_000, strict=True)
    """Turns running at once across all agents; more wait in the (durable) inbox."""
    """How many agent-to-agent hops one request may take (send_message, ask_agent)."""

    @field_validator("fallbacks")
    @classmethod
    def _fallbacks_have_providers(cls, value: list[str]) -> list[str]:
        return [_check_model_ref(ref) for ref in value]

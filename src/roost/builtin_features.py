"""Roost's built-in features, listed in one place, in start order.

Each is imported only when the settings ask for it (the gateway when
``gateway.enabled``, Telegram with a ``telegram:`` section), which keeps `roost run`'s
start-up and memory down. The tools each feature gives are named here too, so the
configuration can be checked (``agents.<name>.tools``) without importing a feature.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roost.tools.files import FILE_TOOLS

if TYPE_CHECKING:
    from roost.config.settings import Settings
    from roost.features.contract import FeatureFactory
    from roost.gateway.service import GatewayService
    from roost.ports import CorePorts


@dataclass(frozen=True)
class BuiltinFeature:
    name: str
    tools: tuple[str, ...]
    """The names of the tools it gives (a test holds them to what it builds)."""
    serving: bool
    """Part of `roost run` only; False: of every process that runs turns (`roost ask` too)."""
    enabled: Callable[[Settings], bool]
    load: Callable[[], FeatureFactory]
    """Imports the feature (only when it is enabled)."""


def _delegation() -> FeatureFactory:
    from roost.tools.delegation import DelegationFeature

    return DelegationFeature


def _memory() -> FeatureFactory:
    from roost.tools.memory import MemoryFeature

    return MemoryFeature


def _notify() -> FeatureFactory:
    from roost.tools.notify import NotifyFeature

    return NotifyFeature


def _web() -> FeatureFactory:
    from roost.web.feature import WebFeature

    return WebFeature


def _web_wanted(settings: Settings) -> bool:
    return any(
        name in agent.tools
        for agent in settings.agents.values()
        for name in ("http_fetch", "web_search")
    )


def _approvals() -> FeatureFactory:
    from roost.approvals.service import ApprovalsService

    return ApprovalsService


def _gateway() -> FeatureFactory:
    return gateway_feature


def gateway_feature(core: CorePorts) -> GatewayService:
    """The gateway, delivering to its WebSocket clients through the ``ws`` channel
    (``channels/websocket.py``; neither package imports the other, so they meet here)."""
    from roost.channels.websocket import WebSocketChannel
    from roost.gateway.service import GatewayService

    return GatewayService(core, WebSocketChannel)


def _control() -> FeatureFactory:
    from roost.control.feature import ControlFeature

    return ControlFeature


def _telegram() -> FeatureFactory:
    from roost.channels.telegram.service import TelegramService

    return TelegramService


def _scheduler() -> FeatureFactory:
    from roost.scheduler.service import SchedulerService

    return SchedulerService


def _openai_api() -> FeatureFactory:
    from roost.openai_api.service import OpenAIFeature

    return OpenAIFeature


def _mcp() -> FeatureFactory:
    from roost.mcp.feature import McpFeature

    return McpFeature


def _always(_: Settings) -> bool:
    return True


BUILTIN_FEATURES: tuple[BuiltinFeature, ...] = (
    BuiltinFeature("delegation", ("send_message", "ask_agent"), False, _always, _delegation),
    BuiltinFeature("memory", ("remember", "recall", "forget"), False, _always, _memory),
    BuiltinFeature("notify", ("notify_owner",), False, _always, _notify),
    BuiltinFeature("web", ("http_fetch", "web_search"), False, _web_wanted, _web),
    BuiltinFeature("approvals", ("shell",), False, _always, _approvals),
    BuiltinFeature("gateway", (), True, lambda s: s.gateway.enabled, _gateway),
    BuiltinFeature("control", (), True, lambda s: s.gateway.enabled, _control),
    BuiltinFeature("telegram", (), True, lambda s: s.telegram is not None, _telegram),
    BuiltinFeature(
        "scheduler", ("schedule_job", "list_jobs", "cancel_job"), True, _always, _scheduler
    ),
    BuiltinFeature("openai_api", (), True, lambda s: s.gateway.enabled, _openai_api),
    # Its tools are the servers' (``mcp:<server>`` entries, checked against mcp_servers).
    BuiltinFeature("mcp", (), True, lambda s: bool(s.mcp_servers), _mcp),
)


def core_features(settings: Settings) -> list[FeatureFactory]:
    """What every process that runs turns has (``App`` adds them itself)."""
    return _enabled(settings, serving=False)


def served_features(settings: Settings) -> list[FeatureFactory]:
    """What `roost run` serves besides the core's, in start order."""
    return _enabled(settings, serving=True)


def _enabled(settings: Settings, *, serving: bool) -> list[FeatureFactory]:
    return [
        feature.load()
        for feature in BUILTIN_FEATURES
        if feature.serving is serving and feature.enabled(settings)
    ]


def unloaded_tools(loaded_for: Settings, entries: Iterable[str]) -> list[str]:
    """The built-in tools among ``entries`` whose feature a process started with
    ``loaded_for`` did not load (the web tools when no agent listed one): a reload cannot
    give them, a restart does."""
    unloaded = {
        name
        for feature in BUILTIN_FEATURES
        if not feature.enabled(loaded_for)
        for name in feature.tools
    }
    return [entry for entry in entries if entry in unloaded]


def known_tool_names(features: Sequence[BuiltinFeature] = BUILTIN_FEATURES) -> list[str]:
    """Every tool name an agent may list: the file tools and those of the features."""
    return [tool.name for tool in FILE_TOOLS] + [name for f in features for name in f.tools]

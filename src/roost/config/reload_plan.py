"""What a new config changes in a running process: applied at once, or named as
needing a restart (`roost reload`, SIGHUP).

Safe to change while running: each agent's prompt, tools, model (on a provider that
already exists), limits and budget, and the overall budget; they apply from each
agent's next turn. ``schedules:`` is not planned here: the scheduler takes it in
itself, against its jobs table (``roost.scheduler.config_sync``), and says what it
applied and what waits for a restart. Everything else that differs needs a restart
and is named.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from roost.config.settings import AgentSettings, Settings

RESTART_KEYS = {
    "home": "home",
    "store_url": "store.url",
    "gateway": "gateway",
    "telegram": "telegram",
    "providers": "providers",
    "prices": "models",
    "scheduler": "scheduler",
    "max_delegation_depth": "max_delegation_depth",
    "max_concurrent_turns": "max_concurrent_turns",
    "log_level": "logging.level",
    "log_format": "logging.format",
}
"""Settings fields a running process cannot take in, and their config keys."""


@dataclass
class ReloadPlan:
    applied: list[str] = field(default_factory=list)
    """Config keys whose new values the process takes in (``agents.a.system``)."""
    needs_restart: list[str] = field(default_factory=list)
    """Config keys that changed and take effect only after a restart."""

    def as_dict(self) -> dict[str, list[str]]:
        return {"applied": self.applied, "needs_restart": self.needs_restart}


def plan_reload(running: Settings, new: Settings) -> ReloadPlan:
    plan = ReloadPlan()
    for attribute, key in RESTART_KEYS.items():
        if getattr(running, attribute) != getattr(new, attribute):
            plan.needs_restart.append(key)
    if running.budget != new.budget:
        plan.applied.append("budget")
    for name in sorted(running.agents.keys() - new.agents.keys()):
        plan.needs_restart.append(f"agents.{name} (removed)")
    for name in sorted(new.agents.keys() - running.agents.keys()):
        plan.needs_restart.append(f"agents.{name} (added)")
    for name in sorted(running.agents.keys() & new.agents.keys()):
        _agent_changes(running.agents[name], new.agents[name], running, plan)
    return plan


def _agent_changes(
    old: AgentSettings, new: AgentSettings, running: Settings, plan: ReloadPlan
) -> None:
    for item in fields(AgentSettings):
        if getattr(old, item.name) == getattr(new, item.name):
            continue
        key = f"agents.{old.name}.{item.name}"
        if item.name == "provider" and new.provider not in running.providers:
            plan.needs_restart.append(key)  # a provider the process has no client for
        else:
            plan.applied.append(key)

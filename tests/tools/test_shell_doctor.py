"""`roost doctor`'s shell lines: the sandbox's state and risky policies."""

from __future__ import annotations

import dataclasses

from roost.config.settings import AgentSettings, Settings
from roost.config.shell import ShellConfig, ShellPolicyConfig
from roost.tools.sandbox import SandboxProbe
from roost.tools.shell_doctor import shell_checks

WORKS = SandboxProbe(True, "bwrap works (/usr/bin/bwrap)")
BROKEN = SandboxProbe(False, "bwrap is installed but cannot make a sandbox here: no namespaces")


def with_shell(settings: Settings, sandbox: str, **policy: object) -> Settings:
    agent = settings.agents["assistant"]
    changed = dataclasses.replace(
        agent, tools=(*agent.tools, "shell"), shell=ShellPolicyConfig(**policy)
    )
    return dataclasses.replace(
        settings,
        agents={**settings.agents, "assistant": changed},
        shell=ShellConfig(sandbox=sandbox),  # type: ignore[arg-type]
    )


def test_no_shell_no_sandbox_question(settings: Settings) -> None:
    assert shell_checks(settings, BROKEN) == [(True, "shell: no agent has the shell tool")]


def test_active_sandbox_and_risky_policies(settings: Settings) -> None:
    found = shell_checks(with_shell(settings, "auto", mode="full", network=True), WORKS)
    assert found[0] == (True, "shell sandbox is active: bwrap works (/usr/bin/bwrap)")
    warnings = [what for ok, what in found if ok is None]
    assert any("shell.mode is full" in what for what in warnings)
    assert any("shell.network" in what for what in warnings)


def test_an_unusable_sandbox_warns_or_fails(settings: Settings) -> None:
    auto = shell_checks(with_shell(settings, "auto"), BROKEN)
    assert auto[0][0] is None and "NOT active" in auto[0][1] and "no namespaces" in auto[0][1]
    required = shell_checks(with_shell(settings, "required"), BROKEN)
    assert required[0][0] is False and "required but unusable" in required[0][1]
    off = shell_checks(with_shell(settings, "off"), WORKS)
    assert off[0][0] is None and "off" in off[0][1]


def test_agent_settings_default_to_ask(settings: Settings) -> None:
    agent: AgentSettings = settings.agents["assistant"]
    assert agent.shell.mode == "ask"

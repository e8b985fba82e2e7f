"""What `roost doctor` says about the shell: the sandbox, and agents' risky policies."""

from __future__ import annotations

from roost.config.settings import Settings
from roost.tools.sandbox import SandboxProbe, probe_sandbox

Finding = tuple[bool | None, str]
"""``(ok, what)``: True ✓, None a warning (!), False a failure (✗)."""


def shell_checks(settings: Settings, probe: SandboxProbe | None = None) -> list[Finding]:
    """Blocking (bwrap is tried once): run it in a thread from async code."""
    agents = [agent for agent in settings.agents.values() if "shell" in agent.tools]
    if not agents:
        return [(True, "shell: no agent has the shell tool")]
    findings: list[Finding] = [_sandbox(settings, probe)]
    for agent in agents:
        policy = agent.shell
        if policy.mode == "full":
            findings.append(
                (None, f"agents.{agent.name}.shell.mode is full: it runs any command unasked")
            )
        if policy.network and policy.mode != "deny":
            findings.append(
                (None, f"agents.{agent.name}.shell.network: commands may use the network")
            )
    return findings


def _sandbox(settings: Settings, probe: SandboxProbe | None) -> Finding:
    mode = settings.shell.sandbox
    if mode == "off":
        return (None, "shell sandbox is off (shell.sandbox: off): commands run unsandboxed")
    found = probe or probe_sandbox()
    if found.usable:
        return (True, f"shell sandbox is active: {found.detail}")
    if mode == "required":
        return (False, f"shell sandbox is required but unusable: {found.detail}; no command runs")
    return (None, f"shell sandbox is NOT active ({found.detail}): commands run unsandboxed")

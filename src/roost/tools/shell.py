"""The ``shell`` tool: run a command in the agent's workspace, within its policy.

The policy (``agents.<name>.shell``, ``roost.config.shell``) decides first
(``roost.tools.shell_policy``): refuse, run, or ask the owner through the approval
gate (``roost.tools.approval``). A command that may run goes to
``roost.tools.shell_run`` — inside bwrap when the sandbox is on
(``roost.tools.sandbox``, ``shell.sandbox``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from roost.config.settings import Settings
from roost.config.shell import ShellPolicyConfig
from roost.tools.approval import ApprovalGate, Decision
from roost.tools.registry import Tool, ToolContext, ToolError
from roost.tools.sandbox import (
    CONTROL_SOCKETS,
    SandboxLayout,
    SandboxProbe,
    bwrap_argv,
    exposed_directories,
    private_directories,
    probe_sandbox_async,
)
from roost.tools.shell_policy import judge, pattern_for
from roost.tools.shell_run import clean_environment, run_command

log = logging.getLogger(__name__)

SHELL = "/bin/sh"
MAX_COMMAND_CHARS = 10_000
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW", re.IGNORECASE)
_MIN_SECRET_CHARS = 8
"""Shorter values are not hidden in output: replacing every "1234" would garble it."""
_DENIED = {
    Decision.DENIED: "the owner denied this command",
    Decision.TIMED_OUT: "nobody approved this command in time, so it was denied",
    Decision.ABANDONED: "Roost stopped before this command was approved, so it was denied",
    Decision.NO_APPROVER: (
        "this command needs the owner's approval, which is given while `roost run` serves "
        "(Telegram buttons, `roost approvals`); nothing was run"
    ),
}


class ShellArgs(BaseModel):
    command: str = Field(min_length=1)
    timeout_s: float | None = Field(default=None, gt=0, le=86_400, description="Default 60")

    @field_validator("command")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("a command cannot contain a NUL character")
        if not value.strip():
            raise ValueError("the command is empty")
        if len(value) > MAX_COMMAND_CHARS:  # here, not in the schema every request carries
            raise ValueError(f"a command is at most {MAX_COMMAND_CHARS:,} characters")
        return value


def secret_values(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """Secret values Roost holds: hidden from the command's env and from its output."""
    found = [
        provider.api_key.get_secret_value()
        for provider in settings.providers.values()
        if provider.api_key is not None
    ]
    if settings.telegram is not None:
        found.append(settings.telegram.token.get_secret_value())
        if settings.telegram.webhook is not None:
            found.append(settings.telegram.webhook.secret.get_secret_value())
    if settings.gateway.token is not None:
        found.append(settings.gateway.token.get_secret_value())
    found += [value for name, value in env.items() if _SECRET_NAME.search(name)]
    return sorted({value for value in found if len(value) >= _MIN_SECRET_CHARS}, key=len)[::-1]


class ShellTool:
    """Builds the ``shell`` tool for a process's settings and approval gate."""

    def __init__(
        self,
        settings: Settings,
        gate: ApprovalGate | None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._settings = settings
        self._gate = gate
        self._env = dict(os.environ if env is None else env)
        self._secrets = secret_values(settings, self._env)
        self._sandbox: SandboxProbe | None = None
        self._sandbox_lock = asyncio.Lock()
        self._file_secrets_read = False

    def tool(self) -> Tool:
        return Tool(
            "shell",
            "Run a /bin/sh command in your workspace; answers exit code and output.",
            ShellArgs,
            self._shell,
        )

    async def sandbox(self) -> SandboxProbe | None:
        """bwrap's probe (done once), or None when ``shell.sandbox: off``."""
        if self._settings.shell.sandbox == "off":
            return None
        async with self._sandbox_lock:
            if self._sandbox is None:
                self._sandbox = await probe_sandbox_async()
                if not self._sandbox.usable:
                    log.warning(
                        "shell: commands run WITHOUT a sandbox (%s; shell.sandbox: %s)",
                        self._sandbox.detail,
                        self._settings.shell.sandbox,
                    )
            return self._sandbox

    def _policy(self, agent: str) -> ShellPolicyConfig:
        found = self._settings.agents.get(agent)
        return found.shell if found is not None else ShellPolicyConfig(mode="deny")

    async def _shell(self, context: ToolContext, args: ShellArgs) -> str:
        policy = self._policy(context.agent)
        await self._check_policy(context, policy, args.command)
        timeout_s = min(args.timeout_s or policy.timeout_s, policy.max_timeout_s)
        argv = await self._argv(context.workspace, policy, args.command)
        await self._read_file_secrets()
        result = await run_command(
            argv,
            cwd=context.workspace,
            env=clean_environment(context.workspace, self._env, self._secrets),
            timeout_s=timeout_s,
            secrets=self._secrets,
        )
        log.info(
            "shell for %s: exit %s in %.2fs%s",
            context.agent,
            "timeout" if result.timed_out else result.exit_code,
            result.duration_s,
            f", {result.dropped_bytes} bytes of output dropped" if result.dropped_bytes else "",
        )
        return result.for_model(timeout_s)

    async def _check_policy(
        self, context: ToolContext, policy: ShellPolicyConfig, command: str
    ) -> None:
        patterns: list[str] = list(policy.allow)
        if self._gate is not None and policy.mode in ("allowlist", "ask"):
            patterns += await self._gate.allowed_patterns(context.agent, "shell")
        verdict = judge(policy.mode, command, patterns)
        if verdict.action == "run":
            return
        if verdict.action == "refuse":
            raise ToolError(verdict.reason)
        if self._gate is None:
            raise ToolError("this command needs the owner's approval, and no one can give it here")
        decision = await self._gate.request(
            context.agent,
            "shell",
            command,
            pattern_for(command),
            session=context.session,
            envelope_id=context.envelope_id,
        )
        if not decision.allows:
            raise ToolError(_DENIED.get(decision, "denied"))

    async def _argv(self, workspace: Path, policy: ShellPolicyConfig, command: str) -> list[str]:
        plain = [SHELL, "-c", command]
        probe = await self.sandbox()
        if probe is None:
            return plain
        if not probe.usable:
            if self._settings.shell.sandbox == "required":
                raise ToolError(
                    "commands must run in a sandbox (shell.sandbox: required), and none "
                    "works on this machine; nothing was run"
                )
            return plain
        layout = await asyncio.to_thread(self._layout, workspace, policy.network)
        bwrap = shutil.which("bwrap") or "bwrap"
        return bwrap_argv(bwrap, layout, plain)

    def _layout(self, workspace: Path, network: bool) -> SandboxLayout:
        """What the sandbox hides and binds back (blocking: it looks at the file system)."""
        owner_home = Path(self._env.get("HOME") or os.path.expanduser("~"))
        hidden = private_directories(owner_home, also=[self._settings.home])
        config = self._settings.config_path
        return SandboxLayout(
            workspace=workspace,
            hidden_dirs=hidden,
            hidden_files=[*([config] if config is not None else []), *CONTROL_SOCKETS],
            exposed=exposed_directories(
                self._env.get("PATH", ""), self._settings.shell.sandbox_readable, owner_home, hidden
            ),
            network=network,
        )

    async def _read_file_secrets(self) -> None:
        """The generated gateway token (in the data directory) joins the secrets once."""
        if self._file_secrets_read:
            return
        self._file_secrets_read = True
        path = self._settings.home / "gateway.token"
        try:
            token = (await asyncio.to_thread(path.read_text, encoding="utf-8")).strip()
        except (OSError, UnicodeDecodeError):
            return
        if len(token) >= _MIN_SECRET_CHARS and token not in self._secrets:
            self._secrets.append(token)

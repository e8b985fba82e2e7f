"""The ``shell`` tool: policy, the bwrap sandbox and its detection, secrets."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.config.loader import load_settings
from roost.config.settings import Settings
from roost.providers.base import ToolCall
from roost.tools.registry import ToolContext, ToolOutcome, ToolRegistry
from roost.tools.sandbox import SandboxLayout, bwrap_argv, private_directories, probe_sandbox
from roost.tools.shell import ShellTool
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM

SECRET = "sk-ant-VERY-DISTINCTIVE-SECRET-9731"
needs_bwrap = pytest.mark.skipif(
    not probe_sandbox().usable, reason=f"no usable bwrap here: {probe_sandbox().detail}"
)


def make_settings(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path, shell: str, sandbox: str
) -> Settings:
    path = write_config(
        provider_yaml(fake_llm).replace("api_key: test-key", f"api_key: {SECRET}", 1)
        + textwrap.dedent(
            f"""\
            home: {tmp_path / "home"}
            shell: {{sandbox: {sandbox}}}
            agents:
              ops:
                model: claude/claude-haiku-4-5
                tools: [shell]
                shell: {shell}
            """
        )
    )
    return load_settings(path, env=os.environ)


async def run(
    settings: Settings, command: str, env: dict[str, str] | None = None, **extra: object
) -> ToolOutcome:
    workspace = settings.agents["ops"].workspace
    workspace.mkdir(parents=True, exist_ok=True)
    registry = ToolRegistry([ShellTool(settings, None, env).tool()])
    arguments = {"command": command, **extra}
    import json

    call = ToolCall("c1", "shell", json.dumps(arguments))
    return await registry.run(call, ToolContext("ops", "s", workspace), ["shell"])


@pytest.fixture
def listening() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


async def test_deny_refuses_and_allowlist_runs_only_matches(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    denied = make_settings(fake_llm, write_config, tmp_path, "{mode: deny}", "off")
    outcome = await run(denied, "echo hi")
    assert outcome.is_error and "disabled" in outcome.text
    listed = make_settings(
        fake_llm, write_config, tmp_path, '{mode: allowlist, allow: ["echo *"]}', "off"
    )
    ok = await run(listed, "echo hi")
    assert (ok.is_error, ok.text) == (False, "exit code 0\nhi\n")
    attack = await run(listed, "echo hi; touch pwned")
    assert attack.is_error and "metacharacter" in attack.text
    assert not (listed.agents["ops"].workspace / "pwned").exists()


async def test_ask_without_anyone_to_ask_refuses(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    settings = make_settings(fake_llm, write_config, tmp_path, "{mode: ask}", "off")
    outcome = await run(settings, "touch made")
    assert outcome.is_error and "approval" in outcome.text
    assert not (settings.agents["ops"].workspace / "made").exists()


async def test_the_timeout_is_capped_by_the_policy(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    settings = make_settings(
        fake_llm, write_config, tmp_path, "{mode: full, max_timeout_s: 0.3}", "off"
    )
    outcome = await run(settings, "sleep 30", timeout_s=3600)
    assert "killed after 0.3 s (timeout)" in outcome.text


async def test_secrets_are_neither_in_the_env_nor_in_the_output(
    fake_llm: FakeLLM,
    write_config: ConfigWriter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-ANOTHER-DISTINCTIVE-1234")
    settings = make_settings(fake_llm, write_config, tmp_path, "{mode: full}", "off")
    outcome = await run(settings, f"env; echo {SECRET}; cat {settings.config_path}")
    assert "tok-ANOTHER-DISTINCTIVE" not in outcome.text
    assert SECRET not in outcome.text and "<redacted>" in outcome.text


@needs_bwrap
async def test_sandbox_writes_the_workspace_only_and_hides_secrets(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    settings = make_settings(fake_llm, write_config, tmp_path, "{mode: full}", "required")
    (settings.home / "roost.db").parent.mkdir(parents=True, exist_ok=True)
    (settings.home / "roost.db").write_text("the database")
    outside = tmp_path / "outside.txt"
    inside = await run(settings, "echo made > inside.txt && cat inside.txt")
    assert inside.text == "exit code 0\nmade\n"
    assert (settings.agents["ops"].workspace / "inside.txt").read_text() == "made\n"
    await run(settings, f"echo x > {outside}")  # /tmp is the sandbox's own
    assert not outside.exists()
    for target in ("/usr/pwned", "/root/pwned", f"{Path(__file__).parent}/pwned"):
        refused = await run(settings, f"touch {target}")
        # Read-only, or not there at all when the path is under /tmp (the sandbox's own).
        assert "exit code 1" in refused.text
        assert "Read-only file system" in refused.text or "No such file" in refused.text
        assert not await asyncio.to_thread(os.path.lexists, target)
    for hidden in (settings.home / "roost.db", settings.config_path):
        peek = await run(settings, f"cat {hidden}")
        assert "the database" not in peek.text and "providers" not in peek.text


@pytest.fixture
def owner_home() -> Iterator[Path]:
    """A home directory for the owner outside /tmp (the sandbox's own /tmp would hide a
    file there whatever the sandbox does with homes, and the test could not fail)."""
    base = Path("/var/tmp")
    if not os.access(base, os.W_OK):
        pytest.skip("no writable /var/tmp for an owner's home outside /tmp")
    home = Path(tempfile.mkdtemp(prefix="roost-owner-", dir=base))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@needs_bwrap
async def test_sandbox_hides_the_owners_home_but_not_the_workspace_or_their_tools(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path, owner_home: Path
) -> None:
    key = owner_home / ".ssh" / "id_ed25519"
    key.parent.mkdir()
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY----- planted")
    (owner_home / ".aws").mkdir()
    (owner_home / ".aws" / "credentials").write_text("aws_secret_access_key = planted")
    tools = owner_home / ".local" / "bin"
    tools.mkdir(parents=True)
    (tools / "owners-tool").write_text("#!/bin/sh\necho the owner tool ran\n")
    (tools / "owners-tool").chmod(0o755)
    (owner_home / ".toolroot" / "share").mkdir(parents=True)
    (owner_home / ".toolroot" / "share" / "data").write_text("tool data")
    workspace = owner_home / "projects" / "ops"  # a workspace inside the hidden home
    path = write_config(
        provider_yaml(fake_llm)
        + textwrap.dedent(
            f"""\
            home: {tmp_path / "home"}
            shell: {{sandbox: required, sandbox_readable: ["~/.toolroot"]}}
            agents:
              ops:
                model: claude/claude-haiku-4-5
                tools: [shell]
                workspace: {workspace}
                shell: {{mode: full}}
            """
        )
    )
    settings = load_settings(path, env=os.environ)
    env = {"HOME": str(owner_home), "PATH": f"{tools}:/usr/bin:/bin"}
    assert key.read_text().endswith("planted")  # readable outside the sandbox
    for secret in (key, owner_home / ".aws" / "credentials"):
        peek = await run(settings, f"cat {secret}", env)
        assert "planted" not in peek.text and "No such file" in peek.text, peek.text
    listing = await run(settings, f"ls -A {owner_home} /home /root /run/user", env)
    assert listing.text.startswith("exit code 0"), listing.text
    assert ".ssh" not in listing.text and ".aws" not in listing.text
    # The way to the workspace, the owner's tools and what sandbox_readable lists.
    assert "projects" in listing.text and ".local" in listing.text
    assert "cloudsdk" not in listing.text  # another user's home (where there is one)
    works = await run(settings, "echo kept > out.txt && cat out.txt && owners-tool", env)
    assert works.text == "exit code 0\nkept\nthe owner tool ran\n", works.text
    assert (workspace / "out.txt").read_text() == "kept\n"
    assert "Read-only" in (await run(settings, f"touch {tools}/more", env)).text
    assert "Read-only" in (await run(settings, f"touch {owner_home}/new", env)).text
    shown = await run(settings, f"cat {owner_home}/.toolroot/share/data", env)
    assert shown.text == "exit code 0\ntool data", shown.text


@needs_bwrap
def test_sandbox_covers_a_socket_it_is_told_to_hide(owner_home: Path) -> None:
    # A socket in the file system is reachable without the network (--unshare-all):
    # the sandbox puts an empty file over a container engine's socket.
    path = owner_home / "engine.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    connect = f"import socket; socket.socket(socket.AF_UNIX).connect({str(path)!r}); print('in')"
    workspace = owner_home / "ws"
    workspace.mkdir()
    bwrap = shutil.which("bwrap") or "bwrap"
    try:
        for hidden, reached in (((), True), ((path,), False)):
            layout = SandboxLayout(workspace, hidden_files=hidden)
            argv = bwrap_argv(bwrap, layout, [sandbox_python(), "-c", connect])
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            assert ("in" in done.stdout) is reached, done.stderr
    finally:
        server.close()


@needs_bwrap
def test_a_hidden_file_stays_covered_inside_a_directory_bound_back(owner_home: Path) -> None:
    # The config file in ~/.config, with ~/.config listed in sandbox_readable: the home
    # is hidden, ~/.config shown again, and the config file must stay covered.
    exposed = owner_home / ".config"
    config = exposed / "roost" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(SECRET)
    (exposed / "other").write_text("readable")
    workspace = owner_home / "ws"
    workspace.mkdir()
    layout = SandboxLayout(
        workspace, hidden_dirs=[owner_home], hidden_files=[config], exposed=[exposed]
    )
    argv = bwrap_argv(shutil.which("bwrap") or "bwrap", layout, ["cat", str(exposed / "other")])
    assert subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout == "readable"
    argv[-1] = str(config)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    # /dev/null over it: empty, or unreadable where /var/tmp is mounted nodev.
    assert done.stdout == "", done.stdout


@needs_bwrap
def test_the_data_directory_stays_hidden_inside_a_directory_bound_back(owner_home: Path) -> None:
    # ROOST_HOME under ~/.local/share with ~/.local in sandbox_readable: the home is hidden,
    # ~/.local shown again, and the data directory (roost.db, gateway.token) must be hidden
    # again, its workspace inside it still there and writable.
    exposed = owner_home / ".local"
    data = exposed / "share" / "roost"
    workspace = data / "workspaces" / "ops"
    workspace.mkdir(parents=True)
    (data / "gateway.token").write_text(SECRET)
    (exposed / "other").write_text("readable")
    hidden = private_directories(owner_home, also=[data])
    assert data in hidden and owner_home in hidden
    layout = SandboxLayout(workspace, hidden_dirs=hidden, exposed=[exposed])
    bwrap = shutil.which("bwrap") or "bwrap"

    def run(command: str) -> subprocess.CompletedProcess[str]:
        argv = bwrap_argv(bwrap, layout, ["sh", "-c", command])
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    assert run(f"cat {exposed / 'other'}").stdout == "readable"
    peek = run(f"cat {data / 'gateway.token'}")
    assert SECRET not in peek.stdout and peek.returncode != 0, peek.stdout
    wrote = run("echo kept > out.txt && cat out.txt")
    assert wrote.stdout == "kept\n", wrote.stderr
    assert (workspace / "out.txt").read_text() == "kept\n"


@needs_bwrap
async def test_sandbox_has_no_network_unless_the_policy_allows_it(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path, listening: int
) -> None:
    python = sandbox_python()
    connect = (
        f"{python} -c \"import socket; socket.create_connection(('127.0.0.1', "
        f"{listening}), 2); print('connected')\""
    )
    closed = make_settings(fake_llm, write_config, tmp_path, "{mode: full}", "required")
    assert "connected" not in (await run(closed, connect)).text
    opened = make_settings(
        fake_llm, write_config, tmp_path, "{mode: full, network: true}", "required"
    )
    assert "connected" in (await run(opened, connect)).text


def sandbox_python() -> str:
    """An interpreter the sandbox can see: /tmp is its own and homes are hidden, so not
    one under /tmp (a CI clone's venv) or in a home (pyenv's, uv's)."""
    unseen = ("/tmp/", "/root/", "/home/", os.path.expanduser("~") + "/")
    for candidate in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        real = os.path.realpath(candidate)
        if os.path.exists(real) and not real.startswith(unseen):
            return candidate
    pytest.skip("no Python interpreter outside /tmp and the homes for the sandbox to run")


def fake_bwrap(directory: Path) -> None:
    """A bwrap that fails like one in a container without user namespaces."""
    directory.mkdir()
    script = directory / "bwrap"
    script.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


async def test_an_unusable_bwrap_is_detected(
    fake_llm: FakeLLM,
    write_config: ConfigWriter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_bwrap(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    probe = probe_sandbox()
    assert not probe.usable and "No permissions to creating new namespace" in probe.detail
    auto = make_settings(fake_llm, write_config, tmp_path, "{mode: full}", "auto")
    ran = await run(auto, "echo unsandboxed")
    assert ran.text == "exit code 0\nunsandboxed\n"
    assert "WITHOUT a sandbox" in caplog.text
    required = make_settings(fake_llm, write_config, tmp_path, "{mode: full}", "required")
    refused = await run(required, "touch made")
    assert refused.is_error and "shell.sandbox: required" in refused.text
    assert not (required.agents["ops"].workspace / "made").exists()


async def test_a_missing_bwrap_is_detected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("bwrap") is None
    assert probe_sandbox().detail == "bwrap (bubblewrap) is not installed"

"""Allowlist patterns: what they approve, and what no pattern can approve."""

from __future__ import annotations

import pytest

from roost.config.shell import ShellPolicyConfig
from roost.tools.shell_policy import judge, matches, pattern_for


@pytest.mark.parametrize(
    ("command", "pattern"),
    [
        ("git status", "git status"),
        ("  git   status ", "git status"),
        ("ls", "ls *"),
        ("ls -la src", "ls *"),
        ("echo hi there", "echo *"),
        ("git log", "git log*"),
        ("git logx", "git log*"),
        ("cat notes/a.txt", "cat notes/*"),
    ],
)
def test_patterns_approve_plain_commands(command: str, pattern: str) -> None:
    assert matches(command, pattern)


@pytest.mark.parametrize(
    ("command", "pattern"),
    [
        ("git status --short", "git status"),
        ("git push", "git status"),
        ("git log -p", "git log*"),
        ("lsblk", "ls *"),
        ("cat notes/../../etc/x y", "cat notes/*"),
        ("gitx status", "git status"),
    ],
)
def test_patterns_do_not_stretch(command: str, pattern: str) -> None:
    assert not matches(command, pattern)


@pytest.mark.parametrize(
    "attack",
    [
        "echo hi; rm -rf ~",
        "echo hi && rm -rf ~",
        "echo hi || rm -rf ~",
        "echo hi | sh",
        "echo $(rm -rf ~)",
        "echo `rm -rf ~`",
        "echo hi > ~/.bashrc",
        "echo hi < /etc/shadow",
        "echo hi & rm -rf ~",
        "echo hi\nrm -rf ~",
        "echo hi\rrm -rf ~",
        "echo ${HOME}",
        "echo \\; rm",
        "echo (rm)",
    ],
)
def test_no_pattern_approves_a_command_with_metacharacters(attack: str) -> None:
    assert not matches(attack, "echo *")
    assert judge("allowlist", attack, ["echo *"]).action == "refuse"
    assert judge("ask", attack, ["echo *"]).action == "ask"
    assert pattern_for(attack) is None  # "Always" cannot add it


def test_modes() -> None:
    assert judge("deny", "ls", ["ls *"]).action == "refuse"
    assert judge("full", "rm -rf / ; echo", []).action == "run"
    assert judge("allowlist", "ls -la", ["ls *"]).action == "run"
    refused = judge("allowlist", "whoami", ["ls *"])
    assert refused.action == "refuse" and "matches no pattern" in refused.reason
    assert judge("ask", "whoami", ["ls *"]).action == "ask"


def test_always_adds_the_exact_command() -> None:
    assert pattern_for("  git   diff  HEAD ") == "git diff HEAD"
    assert matches("git diff HEAD", "git diff HEAD")
    assert not matches("git diff HEAD~3", "git diff HEAD")


@pytest.mark.parametrize("bad", ["", "   ", "*", "* foo", "echo; rm", "ls $HOME"])
def test_config_refuses_patterns_that_cannot_work(bad: str) -> None:
    with pytest.raises(ValueError):
        ShellPolicyConfig(allow=(bad,))


def test_config_defaults_to_ask() -> None:
    policy = ShellPolicyConfig()
    assert (policy.mode, policy.allow, policy.network, policy.timeout_s) == ("ask", (), False, 60)


@pytest.mark.parametrize("whole", ["~", "~/", "/"])
def test_sandbox_readable_refuses_the_whole_home(whole: str) -> None:
    from pydantic import ValidationError

    from roost.config.shell import ShellConfig

    with pytest.raises(ValidationError, match="name a directory inside the home"):
        ShellConfig(sandbox_readable=(whole,))


@pytest.mark.parametrize("bad", ["relative/dir", ".pyenv", "~user/x"])
def test_sandbox_readable_takes_absolute_or_home_paths_only(bad: str) -> None:
    from pydantic import ValidationError

    from roost.config.shell import ShellConfig

    assert ShellConfig(sandbox_readable=("~/.pyenv", "/opt/tools")).sandbox_readable == (
        "~/.pyenv",
        "/opt/tools",
    )
    with pytest.raises(ValidationError, match="write an absolute path or one starting with ~/"):
        ShellConfig(sandbox_readable=(bad,))

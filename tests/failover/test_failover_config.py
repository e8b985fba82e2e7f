"""The fallbacks and circuit_breaker keys: resolved per agent, checked with clear errors."""

from __future__ import annotations

import os

import pytest

from roost.config.errors import ConfigError
from roost.config.loader import load_settings
from tests.conftest import ConfigWriter

PROVIDERS = """\
providers:
  claude: {type: anthropic, api_key: k}
  backup: {type: openai, base_url: "http://127.0.0.1:9/v1"}
"""


def test_an_agent_takes_the_top_level_fallbacks_unless_it_sets_its_own(
    write_config: ConfigWriter,
) -> None:
    path = write_config(
        PROVIDERS
        + """\
fallbacks: [backup/big, claude/claude-haiku-4-5, backup/big]
circuit_breaker: {failures_to_open: 5, cooldown_s: 30}
agents:
  a: {model: claude/claude-haiku-4-5}
  b: {model: claude/claude-sonnet-4-5, fallbacks: [backup/vendor/model-x]}
  c: {model: claude/claude-haiku-4-5, fallbacks: []}
"""
    )
    settings = load_settings(path, env=os.environ)
    # The agent's own model and repeats are left out of its chain.
    assert settings.agents["a"].fallbacks == (("backup", "big"),)
    assert settings.agents["b"].fallbacks == (("backup", "vendor/model-x"),)
    assert settings.agents["c"].fallbacks == ()
    assert settings.circuit_breaker.failures_to_open == 5
    assert settings.circuit_breaker.cooldown_s == 30


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        (
            "fallbacks: [nowhere/x]\nagents: {a: {model: claude/m}}\n",
            "fallbacks[0]: unknown provider 'nowhere'",
        ),
        (
            "agents: {a: {model: claude/m, fallbacks: [claude/m2, bakup/x]}}\n",
            "agents.a.fallbacks[1]: unknown provider 'bakup'; did you mean 'backup'?",
        ),
        ("fallbacks: [just-a-model]\n", "should be provider-name/model-id"),
        ("circuit_breaker: {failures_to_open: 0}\n", "circuit_breaker.failures_to_open"),
        ("circuit_breaker: {cooldown_s: -1}\n", "circuit_breaker.cooldown_s"),
        ("circuit_breaker: {cooldown: 5}\n", "circuit_breaker.cooldown"),
    ],
)
def test_bad_failover_keys_are_named(write_config: ConfigWriter, yaml: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(write_config(PROVIDERS + yaml), env=os.environ)
    assert expected in str(raised.value)


def test_an_unknown_top_level_fallback_is_reported_once(write_config: ConfigWriter) -> None:
    yaml = "fallbacks: [nowhere/x]\nagents: {a: {model: claude/m}, b: {model: claude/m}}\n"
    with pytest.raises(ConfigError) as raised:
        load_settings(write_config(PROVIDERS + yaml), env=os.environ)
    assert str(raised.value).count("unknown provider 'nowhere'") == 1

"""Configuration: search order, ${ENV} secrets, defaults, and errors that name the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from roost.config.errors import ConfigError
from roost.config.loader import find_config, load_settings
from tests.conftest import ConfigWriter

GOOD = """\
providers:
  claude: {type: anthropic, api_key: "${TEST_KEY}"}
  local: {type: openai, base_url: "http://127.0.0.1:11434/v1", api_key: ollama}
models:
  local/llama3.2: {input: 0.5, output: 1.5}
agents:
  assistant:
    model: claude/claude-haiku-4-5
    system: "You are my assistant."
    tools: [read_file, write_file, list_files]
    workspace: ./workspaces/assistant
  helper:
    model: local/llama3.2
    system_file: prompts/helper.md
"""


def error_for(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env=env or {})
    return str(caught.value)


def test_full_example_resolves(write_config: ConfigWriter, tmp_path: Path) -> None:
    path = write_config(GOOD)
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "helper.md").write_text("Help.", encoding="utf-8")
    settings = load_settings(path, env={"TEST_KEY": "sk-secret", "ROOST_HOME": str(tmp_path / "h")})
    assistant = settings.agents["assistant"]
    assert assistant.provider == "claude" and assistant.model == "claude-haiku-4-5"
    assert assistant.workspace == tmp_path / "workspaces" / "assistant"
    assert settings.agents["helper"].system == "Help."
    assert settings.agents["helper"].workspace == tmp_path / "h" / "agents" / "helper" / "workspace"
    api_key = settings.providers["claude"].api_key
    assert api_key is not None and api_key.get_secret_value() == "sk-secret"
    assert "sk-secret" not in repr(settings)
    assert settings.store_url == f"sqlite+aiosqlite:///{tmp_path / 'h' / 'roost.db'}"
    assert settings.prices["local/llama3.2"].input == 0.5


def test_home_key_is_relative_to_the_file_and_env_wins(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    path = write_config("home: ./data\n")
    assert load_settings(path, env={}).home == tmp_path / "data"
    assert load_settings(path, env={"ROOST_HOME": str(tmp_path / "x")}).home == tmp_path / "x"


def test_unknown_provider_names_file_key_and_suggestion(write_config: ConfigWriter) -> None:
    path = write_config(
        GOOD.replace("model: claude/claude-haiku-4-5", "model: claud/claude-haiku-4-5")
    )
    message = error_for(path, {"TEST_KEY": "k"})
    assert str(path) in message
    assert "agents.assistant.model: unknown provider 'claud'" in message
    assert "did you mean 'claude'" in message


def test_unknown_tool_and_unknown_key_are_both_reported(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        providers: {p: {type: openai}}
        agents:
          a: {model: p/m, tools: [read_file, red_file]}
        """
    )
    assert "agents.a.tools[1]: unknown tool 'red_file'" in error_for(path)
    path = write_config("providers: {p: {type: openai, api_kee: x}}\n")
    assert "providers.p.api_kee: unknown key" in error_for(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "agents: {a: {model: nomodel}}\n",
            "agents.a.model: 'nomodel' should be provider-name/model-id",
        ),
        (
            "providers: {p: {type: gemini}}\n",
            "providers.p.type: Input should be 'anthropic' or 'openai'",
        ),
        ("agents: {a: {system: hi}}\n", "agents.a.model: required key is missing"),
        ("agents: [a, b]\n", "agents: Input should be a valid dictionary"),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("agents:\n  a: {model: x/y\n", "line 3, column 1: invalid YAML"),
        ("providers: {p: {type: openai, max_retries: -1}}\n", "providers.p.max_retries:"),
    ],
)
def test_bad_files_are_explained(write_config: ConfigWriter, text: str, expected: str) -> None:
    assert expected in error_for(write_config(text))


def test_missing_env_var_names_key_and_variable_but_default_applies(
    write_config: ConfigWriter,
) -> None:
    path = write_config('providers: {p: {type: anthropic, api_key: "${NOPE_KEY}"}}\n')
    assert "providers.p.api_key: environment variable NOPE_KEY is not set" in error_for(path)
    path = write_config(
        'providers: {p: {type: openai, base_url: "${URL:-http://127.0.0.1:1/v1}"}}\n'
    )
    assert load_settings(path, env={}).providers["p"].base_url == "http://127.0.0.1:1/v1"


def test_secret_values_never_appear_in_errors(write_config: ConfigWriter) -> None:
    path = write_config('providers: {p: {type: anthropic, api_key: "${K}", bogus: 1}}\n')
    message = error_for(path, {"K": "sk-very-secret"})
    assert "sk-very-secret" not in message and "providers.p.bogus" in message


def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "roost.yaml").write_text("{}\n", encoding="utf-8")
    env = {"ROOST_HOME": str(home)}
    assert find_config(None, env) == home / "roost.yaml"
    (tmp_path / "roost.yaml").write_text("{}\n", encoding="utf-8")
    assert find_config(None, env) == tmp_path / "roost.yaml"
    other = tmp_path / "other.yaml"
    other.write_text("{}\n", encoding="utf-8")
    assert find_config(None, {**env, "ROOST_CONFIG": str(other)}) == other
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text("{}\n", encoding="utf-8")
    assert find_config(explicit, {**env, "ROOST_CONFIG": str(other)}) == explicit
    with pytest.raises(ConfigError, match="does not exist"):
        find_config(tmp_path / "missing.yaml", env)
    with pytest.raises(ConfigError, match="ROOST_CONFIG points to"):
        find_config(None, {"ROOST_CONFIG": str(tmp_path / "missing.yaml")})


@pytest.mark.parametrize(
    ("env", "provider", "kind", "model"),
    [
        (
            {"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"},
            "anthropic",
            "anthropic",
            "claude-haiku-4-5",
        ),
        ({"OPENAI_API_KEY": "o"}, "openai", "openai", "gpt-5-mini"),
        ({"ROOST_LOCAL_BASE_URL": "http://127.0.0.1:8080/v1"}, "local", "openai", "llama3.2"),
        (
            {"ROOST_LOCAL_BASE_URL": "http://127.0.0.1:8080/v1", "ROOST_MODEL": "qwen3"},
            "local",
            "openai",
            "qwen3",
        ),
    ],
)
def test_defaults_without_a_file_pick_a_provider_from_the_environment(
    env: dict[str, str], provider: str, kind: str, model: str, tmp_path: Path
) -> None:
    settings = load_settings(None, env={**env, "ROOST_HOME": str(tmp_path / "h")})
    assert settings.config_path is None
    agent = settings.agents["assistant"]
    assert (agent.provider, agent.model) == (provider, model)
    assert settings.providers[provider].type == kind


def test_defaults_without_any_provider_still_give_an_agent(tmp_path: Path) -> None:
    settings = load_settings(None, env={"ROOST_HOME": str(tmp_path / "h")})
    assert settings.agents["assistant"].provider is None
    assert settings.home == tmp_path / "h"
    assert not settings.providers


def test_max_concurrent_turns_reaches_the_router_and_bad_values_name_the_key(
    write_config: ConfigWriter,
) -> None:
    from roost.app import App

    settings = load_settings(write_config("max_concurrent_turns: 4\n"), env={})
    assert settings.max_concurrent_turns == 4
    assert App(settings).router.max_turns == 4
    assert load_settings(write_config("agents: {}\n"), env={}).max_concurrent_turns == 32
    for bad in ("0", "true", "lots"):
        message = error_for(write_config(f"max_concurrent_turns: {bad}\n"))
        assert "max_concurrent_turns" in message and "roost.yaml" in message


ROOST = [sys.executable, "-m", "roost"]


def roost_cli(*args: str, home: Path, env: dict[str, str] | None = None) -> CompletedProcess[str]:
    environment = {**os.environ, "ROOST_HOME": str(home), **(env or {})}
    return subprocess.run(
        [*ROOST, *args], capture_output=True, text=True, env=environment, timeout=60
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"agents:\x00\xff\xfe binary", "not a UTF-8 text file (byte 8"),
        (b"agents: {a: \xe9t\xe9}\n", "not a UTF-8 text file"),
        (("a: " + "[" * 5000 + "]" * 5000).encode(), "nested more than 64 levels deep"),
        (("agents: " + "{a: " * 5000 + "1" + "}" * 5000).encode(), "nested more than 64"),
        (b"a: &x [*x]\n", "nested more than 64 levels deep"),
        (
            b"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
            b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
            b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e]\n",
            "holds more than",
        ),
    ],
)
def test_unreadable_files_are_a_clear_error_not_a_crash(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "roost.yaml"
    path.write_bytes(content)
    assert expected in error_for(path)


@pytest.mark.parametrize("command", [["agents"], ["ask", "assistant", "hi"]])
def test_cli_refuses_binary_and_deep_files_with_exit_2(tmp_path: Path, command: list[str]) -> None:
    for name, content in (
        ("binary.yaml", b"\x89PNG\r\n\x1a\n\x00\x00\xff"),
        ("deep.yaml", ("a: " + "[" * 5000 + "]" * 5000).encode()),
        ("cyclic.yaml", b"a: &x [*x]\n"),
    ):
        path = tmp_path / name
        path.write_bytes(content)
        result = roost_cli("-c", str(path), *command, home=tmp_path / "h")
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert f"configuration error: {path}:" in result.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("notadb://x", "store.url: unsupported database 'notadb' (supported: sqlite,"),
        ("postgres://me:hunter2@db/roost", "unsupported database 'postgres'; did you mean"),
        ("roost.db", "store.url: should be a database URL"),
    ],
)
def test_store_url_scheme_is_checked_with_the_config(
    write_config: ConfigWriter, url: str, expected: str
) -> None:
    message = error_for(write_config(f'store: {{url: "{url}"}}\n'))
    assert expected in message and "hunter2" not in message


def test_sync_database_schemes_get_the_async_driver(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    path = write_config(f"store: {{url: 'sqlite:///{tmp_path}/x.db'}}\n")
    assert load_settings(path, env={}).store_url == f"sqlite+aiosqlite:///{tmp_path}/x.db"
    path = write_config("store: {url: 'postgresql://me@db/roost'}\n")
    assert load_settings(path, env={}).store_url == "postgresql+asyncpg://me@db/roost"


@pytest.mark.parametrize("command", [["run"], ["agents"], ["jobs", "list"], ["cost"]])
def test_every_command_refuses_a_bad_store_url_alike(
    write_config: ConfigWriter, tmp_path: Path, command: list[str]
) -> None:
    path = write_config('store: {url: "notadb://x"}\n')
    result = roost_cli("-c", str(path), *command, home=tmp_path / "h")
    assert result.returncode == 2, result.stderr
    assert "store.url: unsupported database 'notadb'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["${UNCLOSED", "http://${}/v1", "${1BAD}", "a ${X:-y"])
def test_malformed_references_name_the_key(write_config: ConfigWriter, value: str) -> None:
    path = write_config(f'providers: {{p: {{type: openai, base_url: "{value}"}}}}\n')
    message = error_for(path, {"UNCLOSED": "u", "X": "x"})
    assert "providers.p.base_url: malformed ${...} reference" in message


def test_a_literal_dollar_brace_is_written_doubled(write_config: ConfigWriter) -> None:
    path = write_config('agents: {a: {model: p/m, system: "say $${HOME} and ${WHO}"}}\n')
    path.write_text(path.read_text() + "providers: {p: {type: openai}}\n")
    settings = load_settings(path, env={"WHO": "you", "HOME": "/root"})
    assert settings.agents["a"].system == "say ${HOME} and you"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("agents: {a: {model: '${SECRET}'}}\n", "agents.a.model"),
        ("agents: {a: {model: '${SECRET}/m'}}\n", "agents.a.model"),
        (
            "agents: {a: {model: p/m}}\ntelegram: {token: t, default_agent: '${SECRET}'}\n",
            "telegram.default_agent",
        ),
        ("store: {url: '${SECRET}'}\n", "store.url"),
        ("logging: {level: '${SECRET}'}\n", "logging.level"),
        ("agents: {a: {model: p/m, tools: ['${SECRET}']}}\n", "agents.a.tools[0]"),
    ],
)
def test_values_from_the_environment_are_never_echoed(
    write_config: ConfigWriter, text: str, key: str
) -> None:
    path = write_config("providers: {p: {type: openai}}\n" + text)
    for secret in ("sk-ant-api03-very-secret", "sk-x", "sk-ant://x"):
        message = error_for(path, {"SECRET": secret})
        assert secret not in message and key in message
        assert "sk-" not in message


def test_unknown_keys_suggest_the_closest_key(write_config: ConfigWriter) -> None:
    path = write_config(
        """\
        providers: {p: {type: openai, bse_url: x}}
        agents: {a: {model: p/m, tols: []}}
        schedules: {j: {agent: a, prompt: x, every: 1h, promt: y}}
        telegram: {token: t, webhook: {url: u, secret: s, pth: /x}}
        agnets: {}
        zzz: 1
        """
    )
    message = error_for(path)
    assert "agents.a.tols: unknown key; did you mean 'tools'?" in message
    assert "providers.p.bse_url: unknown key; did you mean 'base_url'?" in message
    assert "schedules.j.promt: unknown key; did you mean 'prompt'?" in message
    assert "telegram.webhook.pth: unknown key; did you mean 'path'?" in message
    assert "agnets: unknown key; did you mean 'agents'?" in message
    assert "zzz: unknown key (allowed here: home, providers," in message


REPO = Path(__file__).parent.parent


def test_roost_help_config_prints_the_bundled_reference(tmp_path: Path) -> None:
    result = roost_cli("help", "config", home=tmp_path / "h")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    unknown = roost_cli("help", "nothing", home=tmp_path / "h")
    assert unknown.returncode == 1 and "topics: config" in unknown.stderr


def test_the_reference_is_package_data_so_a_wheel_carries_it() -> None:
    import tomllib
    from importlib import resources

    bundled = resources.files("roost") / "docs" / "configuration.md"
    assert bundled.is_file() and "## Top-level keys" in bundled.read_text(encoding="utf-8")
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "docs/*.md" in package_data["tool"]["setuptools"]["package-data"]["roost"]


def test_init_and_errors_point_to_roost_help_config(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    result = subprocess.run(
        [*ROOST, "init", "--path", str(tmp_path / "new.yaml")],
        capture_output=True,
        text=True,
        env={**os.environ, "ROOST_HOME": str(tmp_path / "h")},
        timeout=60,
    )
    assert result.returncode == 0 and "roost help config" in result.stdout
    assert "docs/configuration.md" not in result.stdout
    assert "roost help config" in error_for(write_config("agents: {a: {model: p/m, x: 1}}\n"))


def test_cli_names_malformed_references_and_hides_environment_values(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    path = write_config(
        """\
        providers: {p: {type: openai, base_url: "${UNCLOSED"}}
        agents: {a: {model: "${LEAKED_KEY}", tols: []}}
        """
    )
    secret = "sk-ant-api03-cli-secret"
    result = roost_cli("-c", str(path), "agents", home=tmp_path / "h", env={"LEAKED_KEY": secret})
    assert result.returncode == 2, result.stderr
    assert "providers.p.base_url: malformed ${...} reference" in result.stderr
    assert secret not in result.stderr and "Traceback" not in result.stderr
    path.write_text(path.read_text().replace("${UNCLOSED", "http://127.0.0.1:1/v1"))
    result = roost_cli("-c", str(path), "agents", home=tmp_path / "h", env={"LEAKED_KEY": secret})
    assert result.returncode == 2
    assert "agents.a.model: (value hidden)" in result.stderr and "${LEAKED_KEY}" in result.stderr
    assert "agents.a.tols: unknown key; did you mean 'tools'?" in result.stderr
    assert secret not in result.stderr

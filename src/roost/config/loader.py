"""Find, read and validate the configuration file; apply defaults.

Search order: ``--config PATH``, then ``$ROOST_CONFIG``, then ``./roost.yaml``,
then ``<home>/roost.yaml``. Without any file Roost runs on defaults.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError

from roost.config.environment import Sources, substitute
from roost.config.errors import ConfigError
from roost.config.fingerprint import config_digest
from roost.config.keys import unknown_key_message
from roost.config.mcp_servers import (
    MCP_PREFIX,
    McpServerConfig,
    check_server_names,
    mcp_entry_problem,
)
from roost.config.redact import redact
from roost.config.schema import AgentConfig, ProviderConfig, RoostConfig
from roost.config.settings import (
    DEFAULT_AGENT,
    DEFAULT_ANTHROPIC_MODEL,
    DEFAULT_LOCAL_MODEL,
    DEFAULT_OPENAI_MODEL,
    AgentSettings,
    Settings,
    default_system_prompt,
)
from roost.config.shape import TOO_DEEP, check_shape

CONFIG_FILE_NAME = "roost.yaml"


def default_home(env: Mapping[str, str]) -> Path:
    """``$ROOST_HOME`` if set, else ``~/.roost``; the ``home:`` key is applied later."""
    if env.get("ROOST_HOME"):
        return Path(env["ROOST_HOME"]).expanduser().resolve()
    return Path("~/.roost").expanduser()


def find_config(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    """Return the config file to use, or ``None`` to run on defaults."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError([f"config file {explicit} does not exist"])
        return explicit
    from_env = env.get("ROOST_CONFIG")
    if from_env:
        path = Path(from_env).expanduser()
        if not path.is_file():
            raise ConfigError([f"ROOST_CONFIG points to {path}, which does not exist"])
        return path
    for candidate in (Path.cwd() / CONFIG_FILE_NAME, default_home(env) / CONFIG_FILE_NAME):
        if candidate.is_file():
            return candidate
    return None


def load_settings(
    explicit: Path | None = None,
    env: Mapping[str, str] | None = None,
    known_tools: Collection[str] | None = None,
) -> Settings:
    """Load and resolve the configuration; raise ``ConfigError`` on any problem."""
    env = os.environ if env is None else env
    if known_tools is None:
        from roost.builtin_features import known_tool_names

        known_tools = known_tool_names()
    path = find_config(explicit, env)
    # Taken before reading: if the file changes in between, the digest is the older
    # one, and a later command warns about a change rather than missing one.
    digest = config_digest(path) if path else None
    sources: Sources = {}
    config = _read(path, env, sources) if path else RoostConfig()
    try:
        settings = _resolve(config, path, env, known_tools)
    except ConfigError as exc:
        raise ConfigError(redact(exc.problems, sources, env), exc.path) from None
    return dataclasses.replace(settings, config_sha256=digest)


def _parse_yaml(text: str) -> Any:
    """``yaml.safe_load``, through libyaml when PyYAML has it (a few ms less at start-up).

    Only the parsing is in C; the values are built by the same SafeConstructor. A
    document libyaml refuses is parsed again by the pure-Python loader, so the error
    reported is the one it gives (its wording and marks).
    """
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.load(text, Loader=fast)  # CSafeLoader: a safe loader
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def _read(path: Path, env: Mapping[str, str], sources: Sources) -> RoostConfig:
    raw = _load_yaml(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            ["the top level must be a mapping of keys (home, providers, agents…)"], path
        )
    raw, problems = substitute(raw, env, sources=sources)
    if problems:
        raise ConfigError(problems, path)
    try:
        return RoostConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors()]
        raise ConfigError(redact(problems, sources, env), path) from None


def _load_yaml(path: Path) -> Any:
    """The parsed file, or a ``ConfigError`` naming it (never a traceback)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [f"not a UTF-8 text file (byte {exc.start} cannot be decoded); save it as UTF-8"],
            path,
        ) from None
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror}"], path) from None
    try:
        raw = _parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}invalid YAML: {problem}"], path) from None
    except RecursionError:
        # The YAML parser recurses once per level of nesting.
        raise ConfigError([TOO_DEEP], path) from None
    shape_problem = check_shape(raw)
    if shape_problem:
        raise ConfigError([shape_problem], path)
    return raw


def _describe(error: Any) -> str:
    where = ""
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = unknown_key_message(RoostConfig, tuple(error["loc"]))
    elif error["type"] == "missing":
        message = "required key is missing"
    return f"{where or '(top level)'}: {message}"


def _resolve(
    config: RoostConfig, path: Path | None, env: Mapping[str, str], known_tools: Collection[str]
) -> Settings:
    base = path.parent.resolve() if path else Path.cwd()
    home = default_home(env)
    if not env.get("ROOST_HOME") and config.home is not None:
        home = _absolute(config.home, base)
    providers = dict(config.providers)
    problems: list[str] = check_server_names(list(config.mcp_servers))
    agents: dict[str, AgentSettings] = {}
    mcp_servers = list(config.mcp_servers)
    for name, agent in config.agents.items():
        resolved = _resolve_agent(
            name, agent, providers, base, home, (known_tools, mcp_servers), problems
        )
        if resolved is not None:
            resolved = _with_fallbacks(resolved, agent, config, providers, problems)
        if resolved:
            agents[name] = resolved
    if not agents:
        provider, model = _detect_provider(env, providers)
        agents[DEFAULT_AGENT] = AgentSettings(
            name=DEFAULT_AGENT,
            provider=provider,
            model=model,
            system=default_system_prompt(DEFAULT_AGENT),
            tools=("read_file", "write_file", "list_files"),
            workspace=home / "agents" / DEFAULT_AGENT / "workspace",
        )
    _check_agent_references(config, agents, problems)
    _check_web_search(config, problems)
    if problems:
        raise ConfigError(problems, path)
    store_url = config.store.url or f"sqlite+aiosqlite:///{home / 'roost.db'}"
    return Settings(
        home=home,
        config_path=path.resolve() if path else None,
        agents=agents,
        providers=providers,
        prices=dict(config.models),
        budget=config.budget,
        store_url=store_url,
        log_level=config.logging.level,
        log_format=config.logging.format,
        gateway=config.gateway,
        max_delegation_depth=config.max_delegation_depth,
        max_concurrent_turns=config.max_concurrent_turns,
        telegram=config.telegram,
        schedules=dict(config.schedules),
        scheduler=config.scheduler,
        circuit_breaker=config.circuit_breaker,
        mcp_servers={
            name: _with_absolute_cwd(server, base) for name, server in config.mcp_servers.items()
        },
        web_search=config.web_search,
        shell=config.shell,
        approvals=config.approvals,
    )


def _with_fallbacks(
    agent: AgentSettings,
    config: AgentConfig,
    roost: RoostConfig,
    providers: Mapping[str, ProviderConfig],
    problems: list[str],
) -> AgentSettings:
    """The agent with its fallback chain: its own ``fallbacks``, else the top-level list
    (without the agent's own model, which is tried first anyway)."""
    own = config.fallbacks is not None
    refs = config.fallbacks if config.fallbacks is not None else roost.fallbacks
    where = f"agents.{agent.name}.fallbacks" if own else "fallbacks"
    chain: list[tuple[str, str]] = []
    for index, ref in enumerate(refs):
        provider, _, model = ref.partition("/")
        problem = f"{where}[{index}]: unknown provider '{provider}'{_known(provider, providers)}"
        if provider not in providers:
            if problem not in problems:  # the top-level list is checked once per agent
                problems.append(problem)
        elif (provider, model) != (agent.provider, agent.model) and (provider, model) not in chain:
            chain.append((provider, model))
    return dataclasses.replace(agent, fallbacks=tuple(chain))


def _check_agent_references(
    config: RoostConfig, agents: Mapping[str, AgentSettings], problems: list[str]
) -> None:
    """Keys that name an agent must name one that exists."""
    references = [(f"schedules.{name}.agent", job.agent) for name, job in config.schedules.items()]
    if config.telegram and config.telegram.default_agent:
        references.append(("telegram.default_agent", config.telegram.default_agent))
    for where, name in references:
        if name not in agents:
            problems.append(f"{where}: unknown agent '{name}'{_known(name, list(agents))}")


def _check_web_search(config: RoostConfig, problems: list[str]) -> None:
    """``web_search`` is offered only with a backend: listing it without one is a mistake."""
    if config.web_search is not None:
        return
    for name, agent in config.agents.items():
        if "web_search" in agent.tools:
            problems.append(
                f"agents.{name}.tools: web_search needs a search backend; add a web_search: "
                "section (backend: searxng with its url, or brave with api_key)"
            )


def _resolve_agent(
    name: str,
    agent: AgentConfig,
    providers: Mapping[str, ProviderConfig],
    base: Path,
    home: Path,
    known: tuple[Collection[str], list[str]],
    problems: list[str],
) -> AgentSettings | None:
    where = f"agents.{name}"
    start = len(problems)
    provider, _, model = agent.model.partition("/")
    if provider not in providers:
        problems.append(
            f"{where}.model: unknown provider '{provider}'{_known(provider, providers)}"
        )
    planner_provider, _, planner_model = (agent.planner_model or "").partition("/")
    if agent.planner_model and planner_provider not in providers:
        problems.append(
            f"{where}.planner_model: unknown provider '{planner_provider}'"
            f"{_known(planner_provider, providers)}"
        )
    known_tools, mcp_servers = known
    for index, tool in enumerate(agent.tools):
        if tool.startswith(MCP_PREFIX):
            # MCP tools are known only once their server runs: the entry names the server.
            problem = mcp_entry_problem(tool, mcp_servers)
            if problem:
                problems.append(f"{where}.tools[{index}]: {problem}")
        elif tool not in known_tools:
            problems.append(
                f"{where}.tools[{index}]: unknown tool '{tool}'{_known(tool, known_tools)}"
            )
    system = agent.system
    if agent.system is not None and agent.system_file is not None:
        problems.append(f"{where}: set either system or system_file, not both")
    elif agent.system_file is not None:
        system_path = _absolute(agent.system_file, base)
        try:
            system = system_path.read_text(encoding="utf-8")
        except OSError as exc:
            problems.append(f"{where}.system_file: cannot read {system_path}: {exc.strerror}")
    if len(problems) > start:
        return None
    workspace = agent.workspace
    return AgentSettings(
        name=name,
        provider=provider,
        model=model,
        system=system if system is not None else default_system_prompt(name),
        tools=tuple(agent.tools),
        workspace=_absolute(workspace, base) if workspace else home / "agents" / name / "workspace",
        max_context_tokens=agent.max_context_tokens,
        max_tool_rounds=agent.max_tool_rounds,
        max_tokens=agent.max_tokens,
        temperature=agent.temperature,
        budget=agent.budget,
        planner_provider=planner_provider or None,
        planner_model=planner_model or None,
        compaction=agent.compaction == "auto",
        openai_system=agent.openai_system,
        memory=agent.memory,
        fetch=agent.fetch,
        shell=agent.shell,
    )


def _detect_provider(
    env: Mapping[str, str], providers: dict[str, ProviderConfig]
) -> tuple[str | None, str]:
    """Pick the default agent's provider from the environment (mutates ``providers``)."""
    if env.get("ANTHROPIC_API_KEY"):
        providers.setdefault(
            "anthropic",
            ProviderConfig(type="anthropic", api_key=SecretStr(env["ANTHROPIC_API_KEY"])),
        )
        return "anthropic", env.get("ROOST_MODEL", DEFAULT_ANTHROPIC_MODEL)
    if env.get("OPENAI_API_KEY"):
        providers.setdefault(
            "openai", ProviderConfig(type="openai", api_key=SecretStr(env["OPENAI_API_KEY"]))
        )
        return "openai", env.get("ROOST_MODEL", DEFAULT_OPENAI_MODEL)
    if env.get("ROOST_LOCAL_BASE_URL"):
        providers.setdefault(
            "local", ProviderConfig(type="openai", base_url=env["ROOST_LOCAL_BASE_URL"])
        )
        return "local", env.get("ROOST_MODEL", DEFAULT_LOCAL_MODEL)
    return None, "unconfigured"


def _known(name: str, known: Collection[str]) -> str:
    if not known:
        return " (none are defined)"
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"{hint} (known: {', '.join(sorted(known))})"


def _with_absolute_cwd(server: McpServerConfig, base: Path) -> McpServerConfig:
    """A stdio server's ``cwd`` is relative to the config file, like other paths."""
    if server.cwd is None:
        return server
    return server.model_copy(update={"cwd": _absolute(server.cwd, base)})


def _absolute(path: Path, base: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else (base / path).resolve()

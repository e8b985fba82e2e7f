"""`roost doctor`: file modes of the config and data directory, and the checks hook."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from roost.cli import doctor_checks
from roost.cli.common import CliState
from roost.cli.doctor_checks import Result, feature_checks
from roost.cli.telegram_cmds import doctor
from roost.config.settings import Settings
from roost.store import memory as memory_store
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM
from tests.gateway.test_doctor import run_doctor


def test_doctor_warns_about_a_config_and_data_readable_by_others(
    write_config: ConfigWriter, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    (home / "gateway.token").write_text("t" * 40)
    (home / "gateway.token").chmod(0o644)
    config = tmp_path / "roost.yaml"
    config.write_text("")
    config.chmod(0o666)  # run_doctor writes the config again: the mode stays
    code, output = run_doctor(write_config, fake_llm, home, "{enabled: false}")
    assert code == 0, output  # warnings, not failures
    assert (
        f"! config file {config} is writable by other users (mode 0666); fix: chmod 600 {config}"
    ) in output
    assert (
        f"! data directory {home} is readable by other users (mode 0755); fix: chmod 700 {home}"
    ) in output
    token = home / "gateway.token"
    assert f"! data file {token} is readable by other users (mode 0644)" in output
    assert "t" * 40 not in output


def test_private_files_pass(settings: Settings, tmp_path: Path) -> None:
    assert settings.config_path is not None
    settings.config_path.chmod(0o600)
    settings.home.mkdir(mode=0o700, exist_ok=True)
    settings.home.chmod(0o700)
    assert doctor_checks.permission_checks(settings) == [
        (True, "config file and data directory are private to their owner")
    ]
    settings.config_path.chmod(0o620)
    [(ok, text)] = doctor_checks.permission_checks(settings)
    assert ok is None and "writable by other users (mode 0620)" in text
    assert text.endswith(f"fix: chmod 600 {settings.config_path}")


def _broken(_: Settings) -> list[Result]:
    raise RuntimeError("cannot tell")


async def _later(_: Settings) -> list[Result]:
    return [(None, "an async check's warning")]


async def test_the_hook_runs_sync_and_async_checks_and_reports_one_that_raises(
    settings: Settings,
) -> None:
    names = (f"{__name__}:_broken", f"{__name__}:_later")
    results = await feature_checks(settings, names)
    assert results == [
        (False, f"check {__name__}:_broken failed: RuntimeError: cannot tell"),
        (None, "an async check's warning"),
    ]


async def test_memory_without_fts5_is_a_warning(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from roost.tools.memory import doctor_checks as memory_checks

    assert memory_checks(settings) == []  # no agent uses memory

    agents = dict(settings.agents)
    agents["coder"] = dataclasses.replace(agents["coder"], tools=("recall",))
    using = dataclasses.replace(settings, agents=agents)
    assert memory_checks(using) == []  # FTS5 is there
    monkeypatch.setattr("roost.tools.memory.sqlite_has_fts5", lambda: False)
    [(ok, text)] = memory_checks(using)
    assert ok is None and text.startswith("memory (coder): this Python's sqlite3 has no FTS5")
    assert memory_store.sqlite_has_fts5()  # the real library, for the record


def _doctor_output(write_config: ConfigWriter, fake_llm: FakeLLM, home: Path, agents: str) -> str:
    config = write_config(provider_yaml(fake_llm) + f"home: {home}\nagents:\n{agents}")
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context, config: Annotated[Path, typer.Option("--config")]) -> None:
        ctx.obj = CliState(config, False)

    app.command("doctor")(doctor)
    result = CliRunner().invoke(app, ["--config", str(config), "doctor"])
    assert result.exit_code == 0, result.output  # warnings, not failures
    return result.output


def test_doctor_warns_about_an_agent_allowed_to_fetch_private_hosts(
    write_config: ConfigWriter, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    output = _doctor_output(
        write_config,
        fake_llm,
        tmp_path / "home",
        "  reader: {model: claude/claude-haiku-4-5, tools: [http_fetch],"
        " fetch: {allow_private: [nas.local, 10.0.0.0/8]}}\n"
        "  lister: {model: claude/claude-haiku-4-5, tools: [read_file],"
        " fetch: {allow_private: [nas.local]}}\n"
        "  public: {model: claude/claude-haiku-4-5, tools: [http_fetch]}\n",
    )
    assert (
        "! agents.reader.fetch.allow_private: http_fetch may reach private hosts "
        "(nas.local, 10.0.0.0/8); what the agent reads can make it fetch them"
    ) in output
    # Without http_fetch the allowance opens nothing; a public-only agent is fine.
    assert "agents.lister" not in output and "agents.public" not in output


def test_doctor_names_loopback_and_metadata_in_an_allowance(
    write_config: ConfigWriter, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    output = _doctor_output(
        write_config,
        fake_llm,
        tmp_path / "home",
        "  wide: {model: claude/claude-haiku-4-5, tools: [http_fetch],"
        " fetch: {allow_private: ['0.0.0.0/0']}}\n"
        "  local: {model: claude/claude-haiku-4-5, tools: [http_fetch],"
        " fetch: {allow_private: [localhost, '[::1]', 192.168.1.10]}}\n",
    )
    assert "agents.wide.fetch.allow_private: http_fetch may reach private hosts (0.0.0.0/0)" in (
        output
    )
    assert "— including a cloud metadata address and this machine (loopback)" in output
    assert "(localhost, [::1], 192.168.1.10); what the agent reads can make it fetch them — " in (
        output.replace("\n", " ")
    )


def test_no_private_fetch_is_a_pass(settings: Settings) -> None:
    from roost.web.doctor import fetch_checks

    assert fetch_checks(settings) == []  # no agent fetches
    agents = dict(settings.agents)
    agents["coder"] = dataclasses.replace(agents["coder"], tools=("http_fetch",))
    using = dataclasses.replace(settings, agents=agents)
    assert fetch_checks(using) == [(True, "http_fetch: public addresses only, for every agent")]

"""`roost doctor`'s gateway checks: who can reach it, and whether the token is strong enough."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.testing import CliRunner

from roost.cli.common import CliState
from roost.cli.telegram_cmds import doctor
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM

LONG = "k" * 32


def run_doctor(
    write_config: ConfigWriter, fake_llm: FakeLLM, home: Path, gateway: str
) -> tuple[int, str]:
    config = write_config(
        provider_yaml(fake_llm)
        + f"""home: {home}
gateway: {gateway}
agents:
  assistant: {{model: claude/claude-haiku-4-5}}
"""
    )
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context, config: Annotated[Path, typer.Option("--config")]) -> None:
        ctx.obj = CliState(config, False)

    app.command("doctor")(doctor)
    result = CliRunner().invoke(app, ["--config", str(config), "doctor"])
    return result.exit_code, result.output


EXPOSED = (
    "! gateway on 0.0.0.0 is reachable from other machines: the token is the only protection "
    "and traffic is not encrypted (no TLS)"
)


def test_off_loopback_doctor_warns_and_refuses_a_short_token(
    write_config: ConfigWriter, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    code, output = run_doctor(write_config, fake_llm, home, '{host: 0.0.0.0, token: "tiny-secret"}')
    assert code == 1, output
    assert EXPOSED in output
    assert "✗ gateway.host is 0.0.0.0, which other machines can reach, and the token in " in output
    assert "shorter than 32 characters" in output and "tiny-secret" not in output
    code, output = run_doctor(write_config, fake_llm, home, f'{{host: 0.0.0.0, token: "{LONG}"}}')
    assert code == 0, output
    assert EXPOSED in output and "✓ gateway token: gateway.token" in output
    assert LONG not in output
    code, output = run_doctor(write_config, fake_llm, home, "{host: 0.0.0.0}")
    assert code == 0, output
    assert "✓ gateway token: generated at the first `roost run`" in output


def test_on_loopback_doctor_only_warns_about_a_short_token(
    write_config: ConfigWriter, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    code, output = run_doctor(write_config, fake_llm, home, '{token: "short"}')
    assert code == 0, output
    assert "! gateway token in gateway.token is shorter than 32 characters" in output
    assert "reachable from other machines" not in output
    home.mkdir(parents=True, exist_ok=True)
    (home / "gateway.token").write_text(LONG + "\n", encoding="utf-8")
    code, output = run_doctor(write_config, fake_llm, home, "{}")
    assert code == 0 and f"✓ gateway token: {home / 'gateway.token'}" in output

"""`roost doctor` and `roost pairing` (as registered by cli/main.py), and a real `roost run`
process killed with SIGKILL in the middle of a turn."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from roost.channels.telegram.access import Pairing, Pairings, display_code
from roost.cli.common import CliState
from roost.cli.telegram_cmds import doctor, pairing_app
from roost.config.loader import load_settings
from roost.store.database import Database
from roost.store.state import StateStore
from tests.channels.conftest import OWNER
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM
from tests.fakes.telegram import FakeTelegram

REPO = Path(__file__).resolve().parents[2]


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(
        ctx: typer.Context, config: Annotated[Path | None, typer.Option("--config")] = None
    ) -> None:
        ctx.obj = CliState(config, False)

    app.command("doctor")(doctor)
    app.add_typer(pairing_app, name="pairing")
    return app


def roost_config(
    write_config: ConfigWriter,
    fake_llm: FakeLLM,
    tmp_path: Path,
    fake: FakeTelegram,
    *,
    token: str | None = None,
    url: str | None = None,
    allowed: str = f"[{OWNER}]",
) -> Path:
    return write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
gateway: {{enabled: false}}
agents:
  assistant: {{model: claude/claude-haiku-4-5}}
telegram:
  token: "{token or fake.token}"
  api_base_url: "{url or fake.url}"
  allowed_users: {allowed}
  default_agent: assistant
"""
    )


def run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli(), ["--config", str(config), *args])
    return result.exit_code, result.output


def test_doctor_all_good(
    write_config: ConfigWriter, fake_llm: FakeLLM, tmp_path: Path, fake: FakeTelegram
) -> None:
    code, output = run(roost_config(write_config, fake_llm, tmp_path, fake), "doctor")
    assert code == 0, output
    for line in (
        "✓ config loads",
        "✓ data directory",
        "✓ store opens",
        "✓ provider claude (anthropic",
        "! gateway: disabled",
        f"✓ telegram: Bot API reachable at {fake.url}",
        "✓ telegram.token: valid, the bot is @roost_test_bot",
        "✓ telegram.allowed_users: 1 user(s)",
        "✓ telegram: long polling",
    ):
        assert line in output
    assert fake.token not in output


def test_doctor_finds_the_problems(
    write_config: ConfigWriter, fake_llm: FakeLLM, tmp_path: Path, fake: FakeTelegram
) -> None:
    config = roost_config(write_config, fake_llm, tmp_path, fake, token="999:WRONG", allowed="[]")
    code, output = run(config, "doctor")
    assert code == 1
    assert "✗ telegram.token: refused by Telegram" in output
    assert "✗ telegram.allowed_users is empty: nobody can talk to the bot" in output
    unreachable = roost_config(write_config, fake_llm, tmp_path, fake, url="http://127.0.0.1:9")
    code, output = run(unreachable, "doctor")
    assert code == 1 and "✗ telegram: cannot reach http://127.0.0.1:9" in output
    fake.webhook_url = "https://old.example/hook"
    code, output = run(roost_config(write_config, fake_llm, tmp_path, fake), "doctor")
    assert code == 0 and "! telegram: a webhook is set (https://old.example/hook)" in output


def _request_pairing(config: Path) -> Pairing:
    async def request() -> Pairing:
        db = Database(load_settings(config).store_url)
        await db.open()
        try:
            pairing = await Pairings(StateStore(db)).request(222, "bob", 222)
            assert pairing is not None
            return pairing
        finally:
            await db.close()

    return asyncio.run(request())


def test_pairing_list_and_approve(
    write_config: ConfigWriter, fake_llm: FakeLLM, tmp_path: Path, fake: FakeTelegram
) -> None:
    config = roost_config(write_config, fake_llm, tmp_path, fake)
    assert run(config, "pairing", "list") == (0, "No pairing codes are waiting.\n")
    pairing = _request_pairing(config)
    code, output = run(config, "pairing", "list")
    assert code == 0 and f"{display_code(pairing.code)}  user 222 @bob  expires in 59 min" in output
    code, output = run(config, "pairing", "approve", display_code(pairing.code))
    assert code == 0 and "Approved Telegram user 222 (@bob)" in output
    code, output = run(config, "pairing", "approve", pairing.code)
    assert code == 1 and "no pairing code" in output


def test_roost_run_killed_mid_turn_replies_exactly_once_after_restart(
    write_config: ConfigWriter, fake_llm: FakeLLM, tmp_path: Path, fake: FakeTelegram
) -> None:
    config = roost_config(write_config, fake_llm, tmp_path, fake)
    env = dict(os.environ, ROOST_CONFIG=str(config))
    command = [sys.executable, "-m", "roost", "run"]
    first = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.DEVNULL)
    second: subprocess.Popen[bytes] | None = None
    try:
        fake.wait_until(lambda: bool(fake.calls_to("getUpdates")), timeout=30)
        fake_llm.delay(30)
        update = fake.send_text(OWNER, "a slow question")
        fake_llm.wait_for_requests(1, timeout=20)
        fake.wait_until(lambda: fake.updates_confirmed > update, timeout=10)
        first.kill()  # SIGKILL: no shutdown at all
        first.wait(timeout=10)
        assert not fake.sent
        polls = len(fake.calls_to("getUpdates"))
        second = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.DEVNULL)
        [reply] = fake.wait_for_sent(1, timeout=30)
        assert reply.visible_text == "echo: a slow question"
        fake.wait_until(lambda: len(fake.calls_to("getUpdates")) > polls, timeout=10)
        assert int(fake.calls_to("getUpdates")[polls].params["offset"]) == update + 1
        second.send_signal(signal.SIGTERM)  # once it has exited, nothing more can happen
        assert second.wait(timeout=30) == 0
        assert len(fake.sent) == 1 and len(fake_llm.requests) == 2
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROOST_CONFIG", raising=False)

"""The gateway's terminal clients against a real gateway: `GatewayClient` driven directly
(App + GatewayService in this process), and `roost ask` / `roost chat` as a user runs
them, beside a real `roost run` child."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from roost.agents.turn import TURN_FIELDS
from roost.app import App
from roost.builtin_features import gateway_feature
from roost.client.config_without_pydantic import peek_config
from roost.client.gateway_client import (
    GatewayAuthError,
    GatewayCallError,
    GatewayClient,
    GatewayEvent,
    GatewayLocation,
    GatewayUnavailable,
    locate,
)
from roost.config.loader import load_settings
from roost.config.schema import GatewayConfig
from roost.config.settings import Settings
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM, FakeUsage
from tests.support.held_llm import held_answers
from tests.support.roost_run import ROOST, RoostRun, child_env, running_roost

WAIT_S = 30.0
FINAL = ("chat.reply", "chat.error")


# -- GatewayClient against an in-process gateway ------------------------------------------


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[tuple[App, GatewayLocation]]:
    configured = dataclasses.replace(settings, gateway=GatewayConfig(port=0, token=SecretStr("t")))
    app = App(configured, [gateway_feature])
    await app.start(recover=True)
    try:
        location = locate(configured)
        assert location is not None, "the gateway did not write gateway.json"
        yield app, location
    finally:
        await app.stop(grace_s=1)


async def final_event(client: GatewayClient, message_id: int) -> tuple[GatewayEvent, list[str]]:
    """The reply (or error) to ``message_id``, and the text streamed before it."""
    deltas: list[str] = []
    async with asyncio.timeout(WAIT_S):
        while True:
            event = await client.next_event()
            assert event is not None, "the connection closed before the reply"
            if event.message_id != message_id:
                continue
            if event.name == "chat.delta":
                deltas.append(event.data["text"])
            if event.name in FINAL:
                return event, deltas


async def test_client_sends_streams_and_gets_the_reply(
    gateway: tuple[App, GatewayLocation], fake_llm: FakeLLM
) -> None:
    _, location = gateway
    fake_llm.reply("Hello from the fake", usage=FakeUsage(120, 7))
    async with await GatewayClient.connect(location.url, location.token, "test-1") as client:
        assert client.client_id == "test-1"
        assert client.agents == ["assistant", "coder"]
        listing = await client.call("agents.list")
        assert [a["name"] for a in listing["agents"]] == ["assistant", "coder"]
        sent = await client.call("chat.send", {"agent": "assistant", "text": "hi", "session": "t"})
        assert sent["session"] == "t"
        event, deltas = await final_event(client, sent["message_id"])
        assert event.name == "chat.reply"
        assert event.data["text"] == "Hello from the fake" == "".join(deltas)
        assert event.data["status"] == "ok"
        assert (event.data["input_tokens"], event.data["output_tokens"]) == (120, 7)
        history = await client.call(
            "sessions.history", {"agent": "assistant", "session": "t", "limit": 20}
        )
        assert [m["role"] for m in history["messages"]] == ["user", "assistant"]
    assert "hi" in json.dumps(fake_llm.last_request.body["messages"][-1])


async def test_request_errors_raise_gateway_call_error_and_the_connection_stays(
    gateway: tuple[App, GatewayLocation],
) -> None:
    _, location = gateway
    async with await GatewayClient.connect(location.url, location.token) as client:
        assert client.client_id.startswith("c-")  # none given: the gateway assigns one
        with pytest.raises(GatewayCallError) as unknown:
            await client.call("no.such.method")
        assert unknown.value.code == "unknown_method" and "chat.send" in unknown.value.message
        with pytest.raises(GatewayCallError) as nobody:
            await client.call("chat.send", {"agent": "nobody", "text": "hi"})
        assert nobody.value.code == "unknown_agent"
        with pytest.raises(GatewayCallError) as bad:
            await client.call("chat.send", {"agent": "assistant"})
        assert bad.value.code == "bad_request" and "text" in bad.value.message
        health = await client.call("health")
        assert health["status"] == "ok"


async def test_wrong_token_and_nothing_listening_are_told_apart(
    gateway: tuple[App, GatewayLocation], tmp_path: Path
) -> None:
    _, location = gateway
    with pytest.raises(GatewayAuthError) as refused:
        await GatewayClient.connect(location.url, "wrong", token_source="/x/gateway.token")
    assert "gateway.token" in str(refused.value) and "/x/gateway.token" in str(refused.value)
    with pytest.raises(GatewayAuthError):
        await GatewayClient.connect(location.url, None)
    url = f"ws://127.0.0.1:{free_port()}/ws"
    with pytest.raises(GatewayUnavailable) as nothing:
        await GatewayClient.connect(url, "t")
    assert str(nothing.value) == f"no gateway is running at {url}: start one with `roost run`"


async def test_a_reply_that_finished_while_disconnected_comes_on_reconnect(
    gateway: tuple[App, GatewayLocation], fake_llm: FakeLLM
) -> None:
    app, location = gateway
    with held_answers(fake_llm) as release:
        client = await GatewayClient.connect(location.url, location.token, "away-1")
        params = {"agent": "assistant", "text": "later", "session": "r"}
        sent = await client.call("chat.send", params)
        await asyncio.to_thread(fake_llm.wait_for_requests, 1, WAIT_S)
        await client.close()
        release.set()  # the turn ends while away-1 is gone
    for _ in range(int(WAIT_S / 0.02)):  # until the reply is stored and waits for away-1
        if [d for d in await app.bus.to_target("ws:away-1") if d.last_error]:
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("the reply was not stored as waiting for away-1")
    async with await GatewayClient.connect(location.url, location.token, "away-1") as back:
        event, _ = await final_event(back, sent["message_id"])
        assert event.name == "chat.reply" and event.data["text"] == "echo: later"
    async with await GatewayClient.connect(location.url, location.token, "away-1") as again:
        with pytest.raises(TimeoutError):  # exactly the pending ones: not twice
            await again.next_event(wait_s=0.3)


async def test_cancel_ends_the_turn_with_an_interrupted_error(
    gateway: tuple[App, GatewayLocation], fake_llm: FakeLLM
) -> None:
    _, location = gateway
    fake_llm.delay(30)
    async with await GatewayClient.connect(location.url, location.token, "cancel-1") as client:
        sent = await client.call("chat.send", {"agent": "coder", "text": "slow", "session": "c"})
        await asyncio.to_thread(fake_llm.wait_for_requests, 1, WAIT_S)
        cancelled = await client.call("chat.cancel", {"agent": "coder", "session": "c"})
        assert cancelled == {"cancelled": True}
        event, _ = await final_event(client, sent["message_id"])
        assert event.name == "chat.error" and event.data["status"] == "interrupted"


async def test_locate_uses_the_token_file_when_the_config_has_none(settings: Settings) -> None:
    assert locate(settings) is None  # nothing running
    app = App(dataclasses.replace(settings, gateway=GatewayConfig(port=0)), [gateway_feature])
    await app.start(recover=True)
    try:
        location = locate(app.settings)
        assert location is not None
        token_file = settings.home / "gateway.token"
        assert location.token == token_file.read_text().strip()
        assert location.token_source == str(token_file)
        async with await GatewayClient.connect(location.url, location.token) as client:
            assert client.agents
    finally:
        await app.stop(grace_s=1)
    assert locate(settings) is None  # gateway.json is removed on stop


def test_peek_config_agrees_with_the_full_loader(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    """The pydantic-free reader `roost ask` uses finds the same home and token."""
    provider = "providers: {claude: {type: anthropic, api_key: k}}\n"
    agent = "agents: {assistant: {model: claude/claude-haiku-4-5}}\n"
    env = {"HOME": os.environ["HOME"], "GW_TOKEN": "from-env"}
    cases = [
        "",
        "home: data\n",
        "home: ~/elsewhere\n",
        f"home: {tmp_path / 'abs'}\n",
        "gateway: {port: 0, token: plain}\n",
        "gateway: {token: '${GW_TOKEN}'}\nhome: ./h\n",
    ]
    for extra in cases:
        path = write_config(provider + agent + extra)
        full = load_settings(path, env=env)
        peeked = peek_config(path, env)
        assert peeked is not None, extra
        assert peeked.home == full.home, extra
        token = full.gateway.token.get_secret_value() if full.gateway.token else None
        assert peeked.token == token, extra
        assert peeked.agents == tuple(full.agents), extra
    with_env_home = {**env, "ROOST_HOME": str(tmp_path / "env-home")}
    path = write_config(provider + agent + "home: ignored\n")
    peeked = peek_config(path, with_env_home)
    assert peeked is not None and peeked.home == load_settings(path, env=with_env_home).home
    # Anything odd goes to the full loader, which explains the problem.
    for odd in (
        "home: [1, 2]\n",
        "gateway: {token: 12}\n",
        "gateway: {token: '${NOPE}'}\n",
        ": :\n  - [",
    ):
        assert peek_config(write_config(provider + agent + odd), env) is None, odd
    assert peek_config(tmp_path / "missing.yaml", env) is None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the CLI beside a real `roost run` ---------------------------------------------------------


def roost(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m roost ARGS`; leading ``-X opt`` pairs go to the interpreter."""
    interpreter: list[str] = []
    while args[:1] == ("-X",):
        interpreter, args = [*interpreter, *args[:2]], args[2:]
    return subprocess.run(
        [sys.executable, *interpreter, "-m", "roost", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env or dict(os.environ),
        timeout=60,
    )


def _config_text(fake_llm: FakeLLM, home: Path) -> str:
    return provider_yaml(fake_llm) + textwrap.dedent(
        f"""\
        home: {home}
        gateway: {{port: 0}}
        agents:
          assistant: {{model: claude/claude-haiku-4-5}}
          coder: {{model: gpt/gpt-5-mini}}
        """
    )


@pytest.fixture
def config(fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path) -> Path:
    return write_config(_config_text(fake_llm, tmp_path / "home"))


@pytest.fixture(scope="module")
def shared_config(fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The config of the module's shared `roost run`, in a directory of its own."""
    directory = tmp_path_factory.mktemp("shared-roost-run")
    path = directory / "roost.yaml"
    path.write_text(_config_text(fake_llm_server, directory / "home"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shared_roost_run(shared_config: Path) -> Iterator[RoostRun]:
    """One `roost run` for the tests that only talk to it (each in a session of its own):
    starting and stopping one costs seconds on a busy machine."""
    directory = shared_config.parent
    env = child_env(directory / "user-home")
    with running_roost(directory / "home", cwd=directory, env=env) as run:
        yield run


@pytest.fixture
def roost_run(
    shared_roost_run: RoostRun, shared_config: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The shared `roost run`'s WebSocket URL; the test's commands run beside it (its
    directory, so they find its config). Tests that change or stop the process, or count
    what all of them did, start their own (``running_roost``)."""
    monkeypatch.chdir(shared_config.parent)
    monkeypatch.setenv("HOME", str(shared_config.parent / "user-home"))
    return shared_roost_run.ws_url


@pytest.fixture
def own_roost_run(config: Path, tmp_path: Path) -> Iterator[str]:
    """A `roost run` for this test alone."""
    with running_roost(tmp_path / "home") as run:
        yield run.ws_url


def test_ask_goes_through_the_running_gateway(roost_run: str, fake_llm: FakeLLM) -> None:
    fake_llm.reply("Answered by roost run.")
    result = roost("-v", "ask", "assistant", "hello gateway", "--session", "gw-1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Answered by roost run.\n"
    assert f"via gateway at {roost_run}" in result.stderr
    assert "in-process" not in result.stderr
    assert "hello gateway" in json.dumps(fake_llm.last_request.body["messages"])
    again = roost("ask", "assistant", "and again", "--session", "gw-1")
    assert again.returncode == 0 and again.stdout == "echo: and again\n"
    assert "Answered by roost run." in json.dumps(fake_llm.last_request.body["messages"])


def test_ask_through_the_gateway_loads_no_model_sdk_store_or_pydantic(
    roost_run: str, shared_config: Path
) -> None:
    config = str(shared_config)
    result = roost("-X", "importtime", "--config", config, "-v", "ask", "coder", "hi")
    assert result.returncode == 0 and result.stdout == "echo: hi\n", result.stderr
    assert "via gateway" in result.stderr
    imported = {
        line.split("|")[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "roost.client.gateway_client" in imported
    heavy = {"anthropic", "openai", "sqlalchemy", "pydantic", "roost.app", "roost.config.schema"}
    assert not heavy & imported


def test_ask_json_through_the_gateway_has_the_in_process_shape(
    roost_run: str, fake_llm: FakeLLM
) -> None:
    fake_llm.reply("four", usage=FakeUsage(1000, 10))
    remote = roost("ask", "coder", "2+2?", "--json", "--session", "j")
    assert remote.returncode == 0, remote.stderr
    answer = json.loads(remote.stdout)
    assert answer["status"] == "ok" and answer["text"] == "four"
    assert (answer["agent"], answer["session"]) == ("coder", "j")
    assert answer["usage"]["input_tokens"] == 1000 and answer["usage"]["output_tokens"] == 10
    assert answer["cost_usd"] == pytest.approx((1000 * 0.25 + 10 * 2.0) / 1e6)
    local = roost("-v", "ask", "coder", "2+2?", "--json", "--local", "--session", "j-local")
    assert local.returncode == 0, local.stderr
    assert "in-process (--local)" in local.stderr
    in_process = json.loads(local.stdout)
    # Every field of a turn (TurnResult.as_dict), the tokens grouped under "usage".
    tokens = {key for key in TURN_FIELDS if key.endswith("_tokens")}
    for printed in (answer, in_process):
        assert set(printed) == set(TURN_FIELDS) - tokens | {"usage"}
        assert set(printed["usage"]) == tokens
        assert isinstance(printed["turn_id"], int) and printed["rounds"] == 1


def test_ask_failures_through_the_gateway_exit_like_in_process(
    roost_run: str, fake_llm: FakeLLM
) -> None:
    fake_llm.fail(401, "invalid x-api-key", times=1)
    result = roost("ask", "assistant", "hi")
    assert result.returncode == 1
    assert "HTTP 401" in result.stderr and "Traceback" not in result.stderr
    fake_llm.fail(401, "invalid x-api-key", times=1)
    failed = roost("ask", "assistant", "hi", "--json")
    assert failed.returncode == 1
    answer = json.loads(failed.stdout)
    assert answer["status"] == "error" and "HTTP 401" in answer["error"]
    unknown = roost("ask", "nobody", "hi")
    assert unknown.returncode == 1 and "unknown agent 'nobody'" in unknown.stderr
    empty = roost("ask", "assistant", "  ")
    assert empty.returncode == 1 and "empty" in empty.stderr


def test_ctrl_c_cancels_the_turn_in_the_gateway(
    roost_run: str, fake_llm: FakeLLM, shared_config: Path
) -> None:
    fake_llm.delay(30)
    process = subprocess.Popen(
        [*ROOST, "ask", "assistant", "take your time", "--session", "ctrl-c"],
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        fake_llm.wait_for_requests(1, timeout=WAIT_S)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 130
        assert process.stderr is not None
        stderr = process.stderr.read()
        assert "interrupted" in stderr and "Traceback" not in stderr
    finally:
        if process.poll() is None:
            process.kill()
    database = sqlite3.connect(shared_config.parent / "home" / "roost.db")
    try:
        deadline = time.monotonic() + WAIT_S
        while (statuses := _turn_statuses(database, "ctrl-c")) != ["interrupted"]:
            assert time.monotonic() < deadline, statuses
            time.sleep(0.05)
    finally:
        database.close()


def _turn_statuses(database: sqlite3.Connection, session: str) -> list[str]:
    query = (
        "SELECT turns.status FROM turns JOIN sessions ON sessions.id = turns.session_id "
        "WHERE sessions.key = ? ORDER BY turns.id"
    )
    return [row[0] for row in database.execute(query, (session,))]


def test_ask_without_a_gateway_runs_in_process(config: Path, fake_llm: FakeLLM) -> None:
    result = roost("-v", "ask", "assistant", "no gateway here")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: no gateway here\n"
    assert "in-process (no gateway running)" in result.stderr


def test_chat_reads_messages_and_commands_from_stdin(own_roost_run: str, fake_llm: FakeLLM) -> None:
    """Its own process: /cost counts every call of the day."""
    fake_llm.reply("first answer")
    script = "\n".join(
        [
            "hello chat",
            "/agent",
            "/agent nobody",
            "/agent coder",
            "hi coder",
            "/new",
            "fresh start",
            "/history",
            "/cost",
            "/help",
            "/quit",
            "never sent",
        ]
    )
    result = roost("chat", stdin=script + "\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "first answer" in out and "echo: hi coder" in out and "echo: fresh start" in out
    assert "never sent" not in json.dumps([r.body for r in fake_llm.requests])
    assert len(fake_llm.requests) == 3
    assert "* assistant  claude/claude-haiku-4-5" in out and "coder  gpt/gpt-5-mini" in out
    assert "unknown agent 'nobody'" in result.stderr
    assert "now talking to coder" in out
    assert "new session cli:" in out
    # /history shows the fresh session only: one exchange.
    after_new = out[out.index("new session cli:") :]
    assert "you: fresh start\ncoder: echo: fresh start\n" in after_new
    assert "you: hi coder" not in after_new
    assert "today: $" in out and "3 call(s)" in out
    assert "/agent NAME" in out


def test_chat_continues_the_given_session_and_reports_failures(
    roost_run: str, fake_llm: FakeLLM
) -> None:
    first = roost("chat", "coder", "--session", "kept", stdin="remember the number 7\n")
    assert first.returncode == 0 and first.stdout == "echo: remember the number 7\n"
    fake_llm.fail(401, "invalid api key", times=1)
    failed = roost("chat", "coder", "--session", "kept", stdin="what number?\n/history\n")
    assert failed.returncode == 1
    assert "HTTP 401" in failed.stderr
    assert "you: remember the number 7" in failed.stdout


def test_chat_without_a_gateway_says_how_to_start_one(config: Path) -> None:
    result = roost("chat", stdin="hello\n")
    assert result.returncode == 1
    assert "no gateway is running" in result.stderr and "roost run" in result.stderr
    assert "make run" in result.stderr and "Traceback" not in result.stderr


def test_chat_with_an_unknown_agent_lists_the_known_ones(roost_run: str) -> None:
    result = roost("chat", "nobody", stdin="hello\n")
    assert result.returncode == 1
    assert "unknown agent 'nobody' (known: assistant, coder)" in result.stderr


def test_chat_reconnects_when_roost_run_restarts(config: Path, tmp_path: Path) -> None:
    """Same client id, and gateway.json read again (gateway.port: 0 picks a new port)."""
    home = tmp_path / "home"
    chat: subprocess.Popen[str] | None = None
    try:
        with running_roost(home):
            chat = subprocess.Popen(
                [*ROOST, "chat", "--session", "restart"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=dict(os.environ),
            )
            assert chat.stdin is not None and chat.stdout is not None
            chat.stdin.write("before\n")
            chat.stdin.flush()
            assert chat.stdout.readline() == "echo: before\n"
        # The first `roost run` has stopped; the chat waits for a gateway to come back.
        with running_roost(home) as second:
            chat.stdin.write("after\n")
            chat.stdin.close()
            chat.wait(timeout=WAIT_S * 2)
        out, err = chat.stdout.read(), chat.stderr.read() if chat.stderr else ""
        assert chat.returncode == 0, err
        assert out == "echo: after\n"
        assert f"reconnected to {second.ws_url}" in err
    finally:
        if chat is not None and chat.poll() is None:
            chat.kill()
            chat.wait()

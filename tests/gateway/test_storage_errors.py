"""A full disk and a database file deleted or replaced under the running process: the
message is refused with a specific error on REST and WebSocket, logged once, and nothing
acknowledged is lost."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from pathlib import Path

import anthropic  # noqa: F401  # imported here, not inside the first turn (seconds under load)
import pytest
from sqlalchemy import Connection

from roost.app import App
from tests.fakes.llm_server import FakeLLM
from tests.gateway.conftest import Gateway, GatewayFactory

BIG = "x" * 300_000
"""A message that needs new pages in the database file."""


async def _limit_pages(app: App, pages: int) -> None:
    """SQLite's ``max_page_count`` on the connection that writes: the database is full once
    it needs more pages than it has (a value below its size means its size)."""

    def pragma(connection: Connection) -> None:
        connection.exec_driver_sql(f"PRAGMA max_page_count = {pages}")

    await app.db.write(pragma)


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _replace(path: Path) -> None:
    copy = path.with_suffix(".copy")
    shutil.copyfile(path, copy)
    os.replace(copy, path)


def _log_lines(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if words in r.getMessage()]


async def test_a_full_database_refuses_with_storage_full_and_keeps_what_it_accepted(
    gateway: Gateway, fake_llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="roost.store")
    async with gateway.http() as http:
        ok = await http.post(
            "/api/agents/assistant/messages", json={"text": "before", "session": "d"}
        )
        assert ok.status_code == 200, ok.text
        await _limit_pages(gateway.app, 1)

        full = await http.post("/api/agents/assistant/messages", json={"text": BIG, "session": "d"})
        assert full.status_code == 507
        error = full.json()["error"]
        assert error["code"] == "storage_full" and "free some space" in error["message"]

        client = await gateway.client()
        response = await client.call(
            "chat.send", {"agent": "assistant", "text": BIG, "session": "d"}
        )
        assert not response["ok"] and response["error"]["code"] == "storage_full"
        assert len(_log_lines(caplog, "database is full")) == 1  # once, not per request

        await _limit_pages(gateway.app, 1_073_741_823)
        after = await http.post(
            "/api/agents/assistant/messages", json={"text": "after", "session": "d"}
        )
        assert after.status_code == 200, after.text
        history = (await http.get("/api/agents/assistant/sessions/d/messages")).json()
        texts = [m["text"] for m in history["messages"] if m["role"] == "user"]
        assert texts == ["before", "after"]
        assert _log_lines(caplog, "accepts writes again")
        await client.ws.close()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_a_database_file_gone_under_the_process_stops_accepting(
    start_gateway: GatewayFactory,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="roost.store")
    gateway = await start_gateway()
    path = Path(gateway.app.settings.home) / "roost.db"
    async with gateway.http() as http:
        ok = await http.post(
            "/api/agents/assistant/messages", json={"text": "kept", "session": "g"}
        )
        assert ok.status_code == 200, ok.text
        await asyncio.to_thread(_remove if how == "deleted" else _replace, path)

        refused = await http.post(
            "/api/agents/assistant/messages", json={"text": "lost?", "session": "g"}
        )
        assert refused.status_code == 503
        error = refused.json()["error"]
        assert error["code"] == "storage_gone"
        assert str(path) in error["message"] and "restart" in error["message"]

        client = await gateway.client()
        for _ in range(2):
            response = await client.call(
                "chat.send", {"agent": "assistant", "text": "lost?", "session": "g"}
            )
            assert not response["ok"] and response["error"]["code"] == "storage_gone"
        await client.ws.close()
    [line] = _log_lines(caplog, "deleted or replaced")  # one loud line, not one per message
    assert [r.levelname for r in caplog.records if r.getMessage() == line] == ["CRITICAL"]

"""The control page's serving and sign-in without a browser: public files with their
headers, the token in ``Sec-WebSocket-Protocol``, never in a log, the Host/Origin guard
for the page's own origin, ``budgets.list``, and `roost open`'s link."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from roost.cli.open_cmd import sign_in_link
from roost.control.assets import load_assets
from roost.control.feature import ControlFeature
from roost.gateway.auth import BEARER_SUBPROTOCOL_PREFIX
from tests.control.conftest import TOKEN, Roost, RoostFactory

if TYPE_CHECKING:
    from roost.ports import CorePorts

pytestmark = pytest.mark.asyncio(loop_scope="module")


def bearer(token: str) -> str:
    encoded = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
    return BEARER_SUBPROTOCOL_PREFIX + encoded


async def first_frame(url: str, protocols: list[str], **options: Any) -> tuple[str | None, Any]:
    """The subprotocol accepted and the first frame (or the close that came instead)."""
    async with connect(url, subprotocols=protocols, open_timeout=10, **options) as ws:
        try:
            return ws.subprotocol, await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as closed:
            return ws.subprotocol, closed.rcvd


async def test_page_is_public_and_the_api_is_not(roost: Roost) -> None:
    async with httpx.AsyncClient(base_url=roost.url) as http:
        page = await http.get("/")
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "no-referrer"
        script = re.search(r'src="(/ui/[0-9a-f]+/app\.js)"', page.text)
        assert script is not None, page.text
        asset = await http.get(script.group(1))
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith("text/javascript")
        assert "immutable" in asset.headers["cache-control"]
        again = await http.get(script.group(1), headers={"If-None-Match": asset.headers["etag"]})
        assert again.status_code == 304
        assert (await http.get("/api/agents")).status_code == 401
        assert (await http.get("/ui/elsewhere.js")).status_code == 401


async def test_the_token_in_the_subprotocol_signs_in(roost: Roost) -> None:
    accepted, hello = await first_frame(roost.gateway.ws_url, ["roost", bearer(TOKEN)])
    assert accepted == "roost"  # never the bearer entry: the token is not echoed
    assert '"event":"hello"' in hello.replace(" ", "")


async def test_a_wrong_subprotocol_token_is_refused_with_a_close_the_page_can_read(
    start_roost: RoostFactory,
) -> None:
    roost = await start_roost(gateway=", auth_failures_per_minute: 1")
    url = roost.gateway.ws_url
    for garbage in (bearer("wrong"), BEARER_SUBPROTOCOL_PREFIX + "!!not-base64!!"):
        accepted, closed = await first_frame(url, ["roost", garbage])
        # Accepted with "roost" even so: a browser drops a connection accepted without it.
        assert accepted == "roost"
        assert closed.code in (4401, 4429)
    accepted, closed = await first_frame(url, ["roost", bearer("wrong again")])
    assert closed.code == 4429  # counted by the failure limiter like any wrong token
    _, hello = await first_frame(url, ["roost", bearer(TOKEN)])
    assert "hello" in hello  # the right token still gets in


async def test_only_the_first_subprotocol_token_is_tried(start_roost: RoostFactory) -> None:
    roost = await start_roost()
    # One request is one failure to the limiter: more entries must not be more guesses.
    protocols = ["roost", bearer("guess 1"), bearer("guess 2"), bearer(TOKEN)]
    _, closed = await first_frame(roost.gateway.ws_url, protocols)
    assert closed.code == 4401


async def test_the_token_never_appears_in_the_logs(
    start_roost: RoostFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    roost = await start_roost()
    url = roost.gateway.ws_url
    await first_frame(url, ["roost", bearer(TOKEN)])
    await first_frame(url, ["roost", bearer(TOKEN + "x")])
    async with httpx.AsyncClient(base_url=roost.url) as http:
        await http.get("/api/agents", headers={"Authorization": f"Bearer {TOKEN}x"})
    # The test's own client (websockets.client) logs what it sends at DEBUG: not the server.
    logged = "\n".join(
        f"{record.name}: {record.getMessage()}{record.exc_text or ''}"
        for record in caplog.records
        if not record.name.startswith("websockets.client")
    )
    assert "refused: missing or wrong token" in logged  # the failure is logged ...
    for secret in (TOKEN, bearer(TOKEN).removeprefix(BEARER_SUBPROTOCOL_PREFIX)):
        assert secret not in logged  # ... never what was sent


async def test_the_start_log_names_the_page_by_its_full_url(
    start_roost: RoostFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="roost.control")
    roost = await start_roost()
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("control page:")]
    assert said == [f"control page: {roost.url}/ (`roost open` prints a link that signs in)"]
    assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*", roost.url)


@pytest.mark.parametrize(
    ("gateway", "said"),
    [
        ({"state": "ok", "url": "http://0.0.0.0:18790"}, "http://127.0.0.1:18790/"),
        ({"state": "ok", "url": "http://[::]:18790"}, "http://[::1]:18790/"),
        ({"state": "ok", "url": "http://192.168.1.5:18790"}, "http://192.168.1.5:18790/"),
        (None, "/ on the gateway's port"),
    ],
)
async def test_a_wildcard_bind_is_named_by_its_loopback_address(
    gateway: dict[str, str] | None, said: str
) -> None:
    components = {} if gateway is None else {"gateway": gateway}
    core = SimpleNamespace(health=lambda: {"components": components})
    feature = ControlFeature(cast("CorePorts", core), load_assets())
    assert feature.page_url() == said


async def test_the_page_origin_is_let_through_and_a_foreign_one_is_not(roost: Roost) -> None:
    url = roost.gateway.ws_url
    own = roost.url  # http://127.0.0.1:<port>, the Origin the page's WebSocket sends
    _, hello = await first_frame(url, ["roost", bearer(TOKEN)], origin=own)
    assert "hello" in hello
    accepted, closed = await first_frame(
        url, ["roost", bearer(TOKEN)], origin="http://evil.example"
    )
    assert accepted == "roost" and closed.code == 4403


async def test_budgets_and_fallbacks_for_the_page(roost: Roost) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with connect(roost.gateway.ws_url, additional_headers=headers) as ws:
        await ws.recv()
        await ws.send('{"type":"req","id":1,"method":"budgets.list"}')
        budgets = json.loads(await asyncio.wait_for(ws.recv(), 10))["result"]["budgets"]
        await ws.send('{"type":"req","id":2,"method":"agents.list"}')
        agents = json.loads(await asyncio.wait_for(ws.recv(), 10))["result"]["agents"]
    scopes = {(b["scope"], b["period"]): b for b in budgets}
    assert scopes[("agent assistant", "daily")]["limit_usd"] == 2
    assert scopes[("agent assistant", "daily")]["config_key"] == "agents.assistant.budget.daily_usd"
    assert scopes[("all agents", "monthly")]["state"] == "ok"
    assert scopes[("all agents", "monthly")]["exhausted"] is False
    fallbacks = {agent["name"]: agent["fallbacks"] for agent in agents}
    assert fallbacks == {"assistant": [], "ops": ["gpt/gpt-5-mini"], "thrifty": []}


async def test_the_sign_in_link_has_the_token_in_the_fragment_only() -> None:
    link = sign_in_link("http://0.0.0.0:18790", "a/b+c")
    assert link == "http://127.0.0.1:18790/#token=a%2Fb%2Bc"
    assert sign_in_link("http://[::1]:5", "t") == "http://[::1]:5/#token=t"
    assert sign_in_link("http://box.lan:80", "t") == "http://box.lan:80/#token=t"


async def _roost_open(config: Path) -> tuple[int | None, str, str]:
    """`roost open --no-browser` as a user runs it: exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "roost", "open", "--no-browser", "--config", str(config)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode(), err.decode()


async def test_roost_open_prints_the_link_of_the_running_gateway(roost: Roost) -> None:
    config = roost.app.settings.config_path
    assert config is not None
    code, out, err = await _roost_open(config)
    assert code == 0, err
    assert out.strip() == f"{roost.url}/#token={TOKEN}"
    assert "holds the gateway token" in err
    await roost.app.stop(grace_s=1)
    code, out, err = await _roost_open(config)
    assert code != 0 and out == ""
    assert re.search("no gateway is running", err)


async def test_every_module_is_preloaded_and_served(roost: Roost) -> None:
    from roost.control.assets import load_assets

    assets = load_assets()
    modules = {path for path in assets.files if path.endswith(".js")}
    async with httpx.AsyncClient(base_url=roost.url) as http:
        page = (await http.get("/")).text
        preloaded = set(re.findall(r'rel="modulepreload" href="([^"]+)"', page))
        entry = set(re.findall(r'<script type="module" src="([^"]+)"', page))
        assert preloaded | entry == modules  # a module added to static/ is preloaded too
        for path in modules:
            assert (await http.get(path)).status_code == 200
    assert assets.total_bytes <= 300 * 1024

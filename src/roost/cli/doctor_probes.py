"""`roost doctor`'s network checks: does each provider's address answer, is `roost run` up.

A provider is probed with a TCP connection to its base URL's host and port (the vendor's
API host when no base_url is set), all providers at once, a couple of seconds each: it
costs no tokens and sends nothing, the key included. It tells "nothing listens there"
(a local server not started, a wrong port) from "something answers"; whether the key is
accepted is only known at the first call.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from roost.config.schema import ProviderConfig

PROBE_TIMEOUT_S = 2.0
MAX_HEALTH_BYTES = 1 << 20
VENDOR_HOSTS = {"anthropic": "api.anthropic.com", "openai": "api.openai.com"}


def provider_address(provider: ProviderConfig) -> tuple[str, int]:
    """The host and port a provider's calls go to."""
    if not provider.base_url:
        return VENDOR_HOSTS[provider.type], 443
    parts = urlsplit(provider.base_url)
    default = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default
    except ValueError:  # a port that is not a number: connecting says it cannot work
        port = default
    return parts.hostname or provider.base_url, port


async def probe(host: str, port: int, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """None if a TCP connection to host:port opens within ``timeout_s``, else why not."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except TimeoutError:
        return f"no answer from {host}:{port} within {timeout_s:g} s"
    except socket.gaierror as exc:
        return f"cannot resolve {host} ({_reason(exc)})"
    except OSError as exc:
        return f"nothing answers at {host}:{port} ({_reason(exc)})"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


async def probe_providers(
    providers: Mapping[str, ProviderConfig], timeout_s: float = PROBE_TIMEOUT_S
) -> dict[str, str | None]:
    """Each provider's probe result (None: it answered), probed in parallel."""
    names = list(providers)
    addresses = [provider_address(providers[name]) for name in names]
    results = await asyncio.gather(*(probe(host, port, timeout_s) for host, port in addresses))
    return dict(zip(names, results, strict=True))


async def gateway_health(http_url: str, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """None if ``GET /healthz`` answers 200 within ``timeout_s``, else why not."""
    problem, _ = await read_health(http_url, timeout_s)
    return problem


async def read_health(
    http_url: str, timeout_s: float = PROBE_TIMEOUT_S
) -> tuple[str | None, dict[str, Any]]:
    """``GET /healthz``: (None, its JSON body) if it answers 200 within ``timeout_s``,
    else (why not, {}).

    A plain HTTP/1.0 request on a socket: no client library to import for one line.
    """
    parts = urlsplit(http_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(
                    f"GET /healthz HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n".encode("ascii")
                )
                await writer.drain()
                status_line = await reader.readline()
                response = await _read_to_end(reader)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except TimeoutError:
        return f"{http_url}/healthz did not answer within {timeout_s:g} s", {}
    except OSError as exc:
        return f"nothing answers at {http_url} ({_reason(exc)})", {}
    fields = status_line.decode("latin-1").split()
    if len(fields) >= 2 and fields[1] == "200":
        return None, _json_body(response)
    return f"{http_url}/healthz answered {' '.join(fields[1:]) or 'nothing'}", {}


async def _read_to_end(reader: asyncio.StreamReader) -> bytes:
    """The rest of an HTTP/1.0 response (the server closes), at most MAX_HEALTH_BYTES."""
    chunks: list[bytes] = []
    size = 0
    while size < MAX_HEALTH_BYTES and (chunk := await reader.read(MAX_HEALTH_BYTES - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _json_body(response: bytes) -> dict[str, Any]:
    _, _, body = response.partition(b"\r\n\r\n")
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def circuit_checks(health: dict[str, Any]) -> list[tuple[bool | None, str]]:
    """Each provider's circuit breaker as `roost run` reports it: closed is fine, open
    or half-open a warning (calls skip it or probe it)."""
    component = health.get("components", {}).get("providers", {})
    providers = component.get("providers", {}) if isinstance(component, dict) else {}
    checks: list[tuple[bool | None, str]] = []
    for name, info in sorted(providers.items()):
        if not isinstance(info, dict):
            continue
        state = str(info.get("state", "unknown"))
        detail = f"circuit {state}"
        if state != "closed":
            detail += f" after {info.get('consecutive_failures', '?')} failure(s) in a row"
            if info.get("retry_at"):
                detail += f", probed again at {info['retry_at']}"
        failovers = int(info.get("failovers", 0) or 0)
        if failovers:
            detail += f"; {failovers} failover(s) since start"
        checks.append((True if state == "closed" else None, f"provider {name}: {detail}"))
    return checks


async def running_checks(home: Path, config_path: Path | None) -> list[tuple[bool | None, str]]:
    """Whether `roost run` is up for ``home`` (gateway.json, then /healthz), and which
    config it loaded; a warning, not a failure, when none runs."""
    from roost.client.config_check import running_config
    from roost.gateway.discovery import read_endpoint

    endpoint = read_endpoint(home)
    if endpoint is None:
        pid = _lock_holder(home)
        if pid is not None:
            return [
                (
                    None,
                    f"roost run (pid {pid}) runs without a gateway (gateway.enabled: false, "
                    "or still starting): which config it loaded cannot be checked",
                )
            ]
        return [(None, f"roost run: not running for {home} (start it with `roost run`)")]
    problem, health = await read_health(endpoint.http_url)
    state = problem or f"up, {endpoint.http_url}/healthz answered"
    checks: list[tuple[bool | None, str]] = [
        (problem is None, f"roost run (pid {endpoint.pid}): {state}")
    ]
    checks += circuit_checks(health)
    running = running_config(home, config_path)
    if running is not None:
        checks.append((True if running.same else None, running.summary()))
    return checks


def _lock_holder(home: Path) -> int | None:
    """The pid in ``<home>/roost.pid`` if that process is alive (a `roost run` without a
    gateway.json); read only: taking the lock, even briefly, could refuse a starting one."""
    from roost.gateway.discovery import process_alive

    try:
        pid = int((home / "roost.pid").read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and process_alive(pid) else None


def _reason(exc: OSError) -> str:
    text = str(exc)
    # Several addresses tried (localhost: ::1 and 127.0.0.1) come as one OSError.
    if exc.errno == errno.ECONNREFUSED or f"Errno {errno.ECONNREFUSED}]" in text:
        return "connection refused"
    if exc.strerror:
        return exc.strerror.lower()
    return text or type(exc).__name__

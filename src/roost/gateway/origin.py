"""Which browser requests may reach the gateway: the ``Host`` and ``Origin`` checks.

Any web page open in the owner's browser can send requests to 127.0.0.1. Two checks
keep such pages out before the token is even looked at (so they cannot count as
authentication failures either):

- ``Host`` must name this machine: an IP address (a DNS-rebinding page always sends
  its own domain name, never an address), ``localhost``, the configured
  ``gateway.host``, or a name in ``gateway.allowed_hosts``. The port is not checked:
  the browser always sends the port it connected to, so it proves nothing, and a port
  forward (``docker -p 8080:18790``) legitimately changes it.
- ``Origin`` may be absent (the CLI, SDKs, curl), the gateway's own origin
  (``http(s)://`` + the ``Host`` header: the gateway's own web page), or one listed in
  ``gateway.allowed_origins``. A cross-site request that carries no ``Origin``
  (``fetch(..., {mode: "no-cors"})`` GET) is recognised by ``Sec-Fetch-Site``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from roost.config.origins import normalize_origin

# Sec-Fetch-Site values a browser sends for a request the user or the page itself made.
_OWN_FETCH_SITES = frozenset({"same-origin", "none"})


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """The name part of a ``Host`` header (``[::1]:80`` -> ``::1``), lower case."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if value.count(":") > 1:  # a bare IPv6 address, not valid in Host but unambiguous
        return value
    return value.partition(":")[0].rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class Refusal(NamedTuple):
    reason: str
    """Short (fits a WebSocket close reason, at most 123 bytes)."""
    detail: str
    """For the HTTP body and the log: what was refused and which key allows it."""


class BrowserGuard:
    """Decides whether a request's ``Host``/``Origin``/``Sec-Fetch-Site`` are acceptable."""

    def __init__(
        self, bind_host: str, allowed_hosts: Iterable[str], allowed_origins: Iterable[str]
    ) -> None:
        names = {"localhost", host_name(bind_host)}
        self._hosts = frozenset(names | {host_name(name) for name in allowed_hosts})
        self._origins = frozenset(normalize_origin(origin) for origin in allowed_origins)

    def refusal(self, headers: Mapping[str, str]) -> Refusal | None:
        """Why the request is refused, or None if it may go on to the token check."""
        host = headers.get("host")
        if host is not None and not self._host_allowed(host):
            return Refusal(
                "host not allowed (gateway.allowed_hosts)",
                f"Host {host_name(host)[:100]!r} is not this gateway's address (DNS "
                "rebinding?); if it is a name for this machine, list it in gateway.allowed_hosts",
            )
        origin = headers.get("origin")
        if origin is not None:
            if self._origin_allowed(origin, host):
                return None
            return Refusal(
                "origin not allowed (gateway.allowed_origins)",
                f"Origin {origin[:100]!r} is not allowed; list it in gateway.allowed_origins",
            )
        site = headers.get("sec-fetch-site")
        if site is not None and site.lower() not in _OWN_FETCH_SITES:
            return Refusal(
                "cross-site request refused",
                "cross-site browser request without an Origin; "
                "send it from an origin listed in gateway.allowed_origins",
            )
        return None

    def _host_allowed(self, host: str) -> bool:
        name = host_name(host)
        return _is_ip(name) or name in self._hosts

    def _origin_allowed(self, origin: str, host: str | None) -> bool:
        try:
            normalized = normalize_origin(origin)
        except ValueError:
            return False  # "null" (sandboxed frames, file:) and garbage
        if normalized in self._origins:
            return True
        if host is None:
            return False
        _, _, own = normalized.partition("://")
        return own == host.strip().lower()

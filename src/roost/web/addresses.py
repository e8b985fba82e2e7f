"""Which addresses ``http_fetch`` may connect to: public ones, and what the owner lists.

A model that can fetch any URL can be talked (by a page it read, say) into reaching
what only the machine can: the router's admin page, a database's HTTP port, the cloud
metadata service that hands out credentials. So every address a host name resolves
to is checked, after resolution (a name can point anywhere), on every redirect, and
the connection then goes to the address that was checked (``fetch.py``), so a DNS
answer that changes between the check and the connection (rebinding) gains nothing.

Refused unless listed in ``agents.<name>.fetch.allow_private``: loopback, private,
link-local, shared (CGNAT, 100.64/10), multicast, unspecified and reserved addresses,
IPv6 addresses embedding a refused IPv4 one (6to4, Teredo, NAT64), and IPv4-mapped
IPv6 addresses outright. Cloud metadata addresses are refused even for a listed host
name: only listing the address itself lets one through. IP addresses written in
another notation than the dotted one (``2130706433``, ``0x7f.1``, ``127.1``) are
refused before any lookup: resolvers and servers disagree on what they mean.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``(host, port)`` → the addresses to try, as strings (a test injects its own)."""

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(text)
    for text in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)
"""AWS, GCP, Azure, OpenStack (and ECS task, Alibaba Cloud) instance metadata."""
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """The URL's host or an address it resolves to may not be fetched."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The system's resolver (``getaddrinfo``), without blocking the event loop."""
    loop = asyncio.get_running_loop()
    try:
        answers = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise AddressRefused(f"cannot resolve '{host}': {exc.strerror}") from None
    return list(dict.fromkeys(str(answer[4][0]).partition("%")[0] for answer in answers))


def blocked_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public one (``None``: it is)."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        embedded = _embedded_ipv4(address)
        if embedded is not None and blocked_reason(embedded):
            return f"an IPv6 address embedding {embedded}, {blocked_reason(embedded)}"
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "the unspecified address"),
        (address in _SHARED, "a shared (CGNAT) address"),
        (address.is_private, "a private address"),
        (address.is_reserved or not address.is_global, "a reserved address"),
    )
    return next((reason for failed, reason in checks if failed), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` is, if it is one; refuses IPs in unusual notations."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        socket.inet_aton(host)
    except OSError:
        return None  # a host name
    raise AddressRefused(
        f"'{host}' is an IP address in an unusual notation (decimal, octal or hex); "
        "write it as a dotted address"
    )


@dataclass(frozen=True)
class AddressPolicy:
    """The private hosts and addresses one agent may fetch (``fetch.allow_private``)."""

    hosts: frozenset[str] = frozenset()
    addresses: frozenset[IPAddress] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def allowing(cls, entries: Iterable[str]) -> AddressPolicy:
        hosts: set[str] = set()
        addresses: set[IPAddress] = set()
        networks = []
        for entry in entries:
            text = entry.strip().lower().rstrip(".").strip("[]")
            try:
                if "/" in text:
                    networks.append(ipaddress.ip_network(text, strict=False))
                else:
                    addresses.add(ipaddress.ip_address(text))
            except ValueError:
                hosts.add(text)
        return cls(frozenset(hosts), frozenset(addresses), tuple(networks))

    def check(self, host: str, address: IPAddress) -> None:
        """Raise ``AddressRefused`` unless ``host`` may be fetched at ``address``."""
        reason = blocked_reason(address)
        if reason is None or self._lists_address(address):
            return
        if reason != "a cloud metadata address" and host.lower().rstrip(".") in self.hosts:
            return
        shown = host if host == str(address) else f"{host} ({address})"
        raise AddressRefused(
            f"{shown} is {reason}; private addresses are fetched only when the agent's "
            "fetch.allow_private lists them"
        )

    def _lists_address(self, address: IPAddress) -> bool:
        return address in self.addresses or any(address in net for net in self.networks)

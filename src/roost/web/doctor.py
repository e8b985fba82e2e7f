"""What `roost doctor` says about ``http_fetch``: agents allowed into the private network.

An agent whose ``fetch.allow_private`` lists hosts can be talked, by a page or a file it
read, into fetching them: the router's admin page, a NAS, a database's HTTP port. That
is the owner's choice, so it is a warning, not a failure; a listing that reaches this
machine (loopback: Roost's own gateway) or a cloud metadata address says so, as those
are the likeliest to be listed by mistake (``127.0.0.0/8``, ``0.0.0.0/0``).
Listed in ``roost.cli.doctor_checks.FEATURE_CHECKS``; imports only the standard library.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from roost.web.addresses import METADATA_ADDRESSES

if TYPE_CHECKING:
    from roost.config.settings import Settings

Finding = tuple[bool | None, str]
"""``(ok, what)``: True ✓, None a warning (!), False a failure (✗)."""

_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def fetch_checks(settings: Settings) -> list[Finding]:
    fetching = [agent for agent in settings.agents.values() if "http_fetch" in agent.tools]
    findings: list[Finding] = []
    for agent in fetching:
        listed = agent.fetch.allow_private
        if not listed:
            continue
        text = (
            f"agents.{agent.name}.fetch.allow_private: http_fetch may reach private hosts "
            f"({', '.join(listed)}); what the agent reads can make it fetch them"
        )
        sensitive = sorted({what for entry in listed for what in _sensitive(entry)})
        if sensitive:
            text += f" — including {' and '.join(sensitive)}"
        findings.append((None, text))
    if findings or not fetching:
        return findings
    return [(True, "http_fetch: public addresses only, for every agent")]


def _sensitive(entry: str) -> list[str]:
    """What an ``allow_private`` entry opens that is worth naming."""
    text = entry.strip().lower().rstrip(".").strip("[]")
    if text == "localhost" or text.endswith(".localhost"):
        return ["this machine (loopback)"]
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return []  # a host name: what it resolves to is checked at each fetch
    found = []
    if any(address in network for address in METADATA_ADDRESSES):
        found.append("a cloud metadata address")
    if any(network.overlaps(lo) for lo in _LOOPBACK if lo.version == network.version):
        found.append("this machine (loopback)")
    return found

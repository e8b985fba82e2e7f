"""Envelopes (messages to agents), deliveries (messages to channels) and addresses.

Addresses are plain strings, ``scheme:target``: ``agent:<name>``, ``ws:<client id>``,
``telegram:<chat id>``, ``job:<name>``, ``http:api``, ``cli:<user>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ENVELOPE_PENDING = "pending"
ENVELOPE_DONE = "done"
ENVELOPE_CANCELLED = "cancelled"

DELIVERY_PENDING = "pending"
DELIVERY_DELIVERED = "delivered"
DELIVERY_FAILED = "failed"


class AddressError(ValueError):
    """An address is not ``scheme:target``."""


def split_address(address: str) -> tuple[str, str]:
    scheme, sep, target = address.partition(":")
    if not sep or not scheme or not target:
        raise AddressError(
            f"'{address}' is not an address: use scheme:target, e.g. agent:assistant, "
            "telegram:123456789 or ws:my-client"
        )
    return scheme, target


def agent_address(name: str) -> str:
    return f"agent:{name}"


def agent_name(address: str) -> str | None:
    """The agent's name if ``address`` is an agent address, else ``None``."""
    scheme, _, target = address.partition(":")
    return target if scheme == "agent" and target else None


@dataclass
class Envelope:
    """A message for an agent's session, as stored in the inbox."""

    sender: str
    recipient: str
    session: str
    body: str
    reply_to: str | None = None
    depth: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    dedup_key: str | None = None
    id: int = 0
    created_at: datetime | None = None
    status: str = ENVELOPE_PENDING

    @property
    def agent(self) -> str:
        name = agent_name(self.recipient)
        if name is None:
            raise AddressError(f"envelope {self.id} is not addressed to an agent")
        return name


@dataclass
class Delivery:
    """A message for a channel address, as stored in the outbox."""

    target: str
    sender: str
    body: str
    session: str = ""
    envelope_id: int | None = None
    job_run_id: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    id: int = 0
    status: str = DELIVERY_PENDING
    attempts: int = 0
    last_error: str | None = None
    channel_ref: str | None = None
    created_at: datetime | None = None
    delivered_at: datetime | None = None

"""What can go wrong talking to the gateway, and the messages the user reads about it.

No third-party imports: a command can catch these without loading the WebSocket library.
"""

from __future__ import annotations

from roost.gateway.discovery import TOKEN_FILE

CLOSE_UNAUTHORIZED = 4401
CLOSE_RATE_LIMITED = 4429
CLOSE_SLOW_CONSUMER = 4408
CLOSE_FORBIDDEN = 4403


class GatewayError(Exception):
    """Anything that went wrong talking to the gateway; the message is for the user."""


class GatewayUnavailable(GatewayError):
    """Nothing answers at the gateway's address."""


class GatewayAuthError(GatewayError):
    """The gateway refused the token (close 4401) or this address (close 4429)."""


class GatewayClosed(GatewayError):
    """The connection ended (the gateway stopped, or the network dropped)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class GatewayCallError(GatewayError):
    """The gateway answered a request with ``ok: false``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


def auth_message(url: str, code: int, token_source: str) -> str:
    """Why the gateway refused us (an HTTP status or a close code), and what to check."""
    where = (
        f"the token in {token_source}"
        if token_source != TOKEN_FILE
        else f"gateway.token in the config, else <home>/{TOKEN_FILE}"
    )
    if code in (CLOSE_FORBIDDEN, 403):
        return (
            f"the gateway at {url} refused this client before looking at the token (close {code}): "
            "it reached the gateway through a host name or web origin the gateway does not know; "
            "list it under gateway.allowed_hosts (or gateway.allowed_origins) in the config"
        )
    if code in (CLOSE_RATE_LIMITED, 429):
        return (
            f"the gateway at {url} refuses this address for a minute after too many failed "
            f"logins (close {code}); check {where}, then try again later"
        )
    return (
        f"the gateway at {url} refused the token (close {code} unauthorized): the client "
        f"must use the token `roost run` uses, here {where}"
    )


def closed_error(url: str, code: int | None) -> GatewayClosed:
    """The error for a connection that ended with close ``code`` (None: none received)."""
    if code == CLOSE_SLOW_CONSUMER:
        return GatewayClosed(f"the gateway at {url} dropped this client: it read too slowly", code)
    suffix = f" (close {code})" if code and code != 1000 else ""
    return GatewayClosed(f"lost the connection to the gateway at {url}{suffix}", code)

"""Who can reach the gateway, and whether its token is strong enough for that.

Shared by `roost run` (refuses a weak token off loopback, warns about the exposure) and
`roost doctor` (says the same before anything starts). No third-party imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roost.gateway.discovery import read_token_file, token_path
from roost.gateway.origin import is_loopback

if TYPE_CHECKING:
    from roost.config.settings import Settings

MIN_EXPOSED_TOKEN_CHARS = 32
"""Off loopback the token is the only protection: at least 32 characters (a generated
token has 43 URL-safe characters, 256 bits)."""

GENERATE_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"

Result = tuple[bool | None, str]
"""``(ok, text)``: True ✓, False ✗, None a warning. Never contains the token."""


def weak_token_message(host: str, where: str) -> str:
    return (
        f"gateway.host is {host}, which other machines can reach, and the token in {where} "
        f"is shorter than {MIN_EXPOSED_TOKEN_CHARS} characters: anyone who guesses it "
        "controls the agents. Leave gateway.token unset to get a generated one in "
        f"<home>/gateway.token, or set a long random one, e.g. the output of `{GENERATE_HINT}` "
        "(or use gateway.host: 127.0.0.1)"
    )


def exposure_warning(host: str) -> str:
    return (
        f"gateway on {host} is reachable from other machines: the token is the only "
        "protection and traffic is not encrypted (no TLS); put a TLS proxy in front or use "
        "gateway.host: 127.0.0.1"
    )


def gateway_checks(settings: Settings) -> list[Result]:
    gateway = settings.gateway
    if not gateway.enabled:
        return [(None, "gateway: disabled (gateway.enabled: false)")]
    exposed = not is_loopback(gateway.host)
    checks: list[Result] = [(None, exposure_warning(gateway.host))] if exposed else []
    if gateway.token is not None and gateway.token.get_secret_value():
        token: str | None = gateway.token.get_secret_value()
        where = "gateway.token"
    else:
        token = read_token_file(settings.home)
        where = str(token_path(settings.home))
    if token is None:
        checks.append((True, "gateway token: generated at the first `roost run`"))
    elif len(token) >= MIN_EXPOSED_TOKEN_CHARS:
        checks.append((True, f"gateway token: {where}"))
    elif exposed:
        checks.append((False, weak_token_message(gateway.host, where)))
    else:
        checks.append(
            (
                None,
                f"gateway token in {where} is shorter than {MIN_EXPOSED_TOKEN_CHARS} "
                "characters: any program on this machine can guess it; "
                f"use a generated one (`{GENERATE_HINT}`)",
            )
        )
    return checks

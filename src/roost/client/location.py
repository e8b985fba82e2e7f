"""Finding the running gateway: its address (``<home>/gateway.json``) and the token to
present (the config's ``gateway.token``, else ``<home>/gateway.token``).

    location = locate(settings)            # None: no gateway is running
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from roost.gateway.discovery import TOKEN_FILE, read_endpoint, read_token_file

if TYPE_CHECKING:
    from roost.config.settings import Settings


@dataclass(frozen=True)
class GatewayLocation:
    """Where the gateway listens, the token to present, and where that token comes from."""

    url: str
    token: str | None
    token_source: str = TOKEN_FILE


def locate(settings: Settings, url: str | None = None) -> GatewayLocation | None:
    """The running gateway for these settings, or None if none is running.

    ``url`` overrides the address found in ``<home>/gateway.json`` (then no check
    is made that a gateway runs: connecting tells).
    """
    return finder(settings, url)()


def finder(settings: Settings, url: str | None = None) -> GatewayFinder:
    configured = settings.gateway.token
    token = configured.get_secret_value() if configured is not None else None
    where = f"gateway.token in {settings.config_path}" if configured is not None else None
    return GatewayFinder(settings.home, token, where, url, settings.config_path, knows_config=True)


@dataclass(frozen=True)
class GatewayFinder:
    """Finds the gateway of a data directory: call it (again, after a restart)."""

    home: Path
    configured_token: str | None = None
    """The config's ``gateway.token``; without it, ``<home>/gateway.token`` is read."""
    token_source: str | None = None
    """Where ``configured_token`` is set, for messages."""
    url: str | None = None
    """A fixed address (``--url``); else the one in ``<home>/gateway.json``."""
    config_path: Path | None = None
    """The config file this command loaded (None: built-in defaults)."""
    knows_config: bool = False
    """Whether ``config_path`` was given: only then is it compared with the gateway's."""

    def __call__(self) -> GatewayLocation | None:
        return locate_in(
            self.home, self.configured_token, url=self.url, token_source=self.token_source
        )

    def config_mismatch(self) -> str | None:
        """When the running `roost run` loaded another config than this command (or the
        file changed since), what to tell the user; None otherwise, or with ``--url``
        (the gateway there need not be the one ``gateway.json`` describes)."""
        if self.url is not None or not self.knows_config:
            return None
        from roost.client.config_check import running_config

        running = running_config(self.home, self.config_path)
        return running.mismatch() if running is not None else None


def locate_in(
    home: Path,
    configured_token: str | None,
    *,
    url: str | None = None,
    token_source: str | None = None,
) -> GatewayLocation | None:
    """Like `locate`, from the data directory and the config's ``gateway.token``."""
    if url is None:
        endpoint = read_endpoint(home)
        if endpoint is None:
            return None
        url = endpoint.ws_url
    if configured_token:
        return GatewayLocation(url, configured_token, token_source or "gateway.token")
    return GatewayLocation(url, read_token_file(home), str(home / TOKEN_FILE))

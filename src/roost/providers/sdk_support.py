"""What the two SDK backends share: identity, and turning SDK failures into safe messages.

Both official SDKs are generated from the same template, so their exception classes
have the same names and meanings; the backend passes its SDK module in.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from roost.config.schema import ProviderConfig
from roost.providers.base import ProviderError, is_transient_status

MAX_ERROR_CHARS = 300
KEY_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY")
"""Where the SDKs look for a key the config does not give."""
MIN_MASKED_CHARS = 8
"""Shorter "keys" (a placeholder like ``x``) would mask ordinary words."""
_settled: set[str] = set()


@dataclass(frozen=True)
class SdkTypes:
    """What an SDK parses a streamed call into: the whole answer's type (``cast_to``)
    and the stream of its events (``stream_cls``)."""

    answer: type[Any]
    stream: type[Any]


def settle_sdk_import(sdk: str) -> None:
    """Move what importing an SDK created out of the cycle collector's way, once per SDK.

    An SDK is imported on the first call, after start-up, so its ~150,000 objects
    (modules, classes, pydantic schemas), which live as long as the process, would
    otherwise be walked by every full collection: ~80 ms each, a stall for every turn
    running at the time. ``gc.freeze`` is what ``roost run`` does with what start-up
    made, for the same reason; frozen objects are still freed by reference counting.
    Called after the first call completed, so the SDK's own lazy imports are in.
    """
    if sdk not in _settled:
        _settled.add(sdk)
        gc.freeze()


class SdkProvider:
    """Name, kind and error helpers for a backend built on an official SDK."""

    kind_name = ""

    def __init__(self, name: str, config: ProviderConfig) -> None:
        self._name = name
        self._config = config

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> str:
        return self.kind_name

    def _error(
        self, text: str, status: int | None = None, *, transient: bool = False
    ) -> ProviderError:
        """``<provider>: HTTP <status>: <text>``, with the keys masked and the length bounded.

        Masked: the configured key, and those an SDK reads from the environment when none
        is configured (a server that echoes the key it got must not put it in our errors,
        which reach the ledger, logs and clients).
        """
        for key in self._keys():
            text = text.replace(key, "***")
        if len(text) > MAX_ERROR_CHARS:
            text = text[: MAX_ERROR_CHARS - 1] + "…"
        prefix = f"HTTP {status}: " if status is not None else ""
        if status is not None:
            transient = transient or is_transient_status(status)
        return ProviderError(
            f"{self._name}: {prefix}{text}", status_code=status, transient=transient
        )

    def _keys(self) -> list[str]:
        configured = self._config.api_key.get_secret_value() if self._config.api_key else ""
        found = [configured, *(os.environ.get(name, "") for name in KEY_VARIABLES)]
        return [key for key in found if len(key) >= MIN_MASKED_CHARS]

    def _sdk_error(self, sdk: ModuleType, exc: Exception, base_url: object) -> ProviderError:
        """The ``ProviderError`` for one of ``sdk``'s ``APIError`` subclasses."""
        if isinstance(exc, sdk.APIStatusError):
            message = api_error_message(exc.body, exc.message)
            if exc.status_code < 400:  # an error event inside a successful stream
                # e.g. Anthropic's mid-stream overloaded_error: the provider's state.
                return self._error(f"stream error: {message}", transient=True)
            return self._error(message, exc.status_code)
        if isinstance(exc, sdk.APITimeoutError):  # before its base, APIConnectionError
            return self._error(
                f"request timed out after {self._config.timeout_s:g}s", transient=True
            )
        if isinstance(exc, sdk.APIConnectionError):
            cause = exc.__cause__
            detail = f" ({cause})" if cause is not None and str(cause) else ""
            return self._error(f"cannot connect to {base_url}{detail}", transient=True)
        return self._error(str(getattr(exc, "message", exc)))


def api_error_message(body: object, fallback: str) -> str:
    """The human-readable message inside an API error body, in either vendor's shape."""
    message: object = None
    if isinstance(body, dict):
        message = body.get("message")
        inner = body.get("error")
        if not isinstance(message, str) and isinstance(inner, dict):
            message = inner.get("message")
        elif not isinstance(message, str) and isinstance(inner, str):
            message = inner
    elif isinstance(body, str):
        message = body.strip()
    return message if isinstance(message, str) and message else fallback

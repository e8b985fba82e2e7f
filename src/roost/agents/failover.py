"""One model call with failover: the agent's model, then its fallbacks in order.

A call goes to the next model of the chain only after an outage (a transient
``ProviderError``: 429, 5xx, overloaded, a timeout or a lost connection, after the
SDK's own retries gave up); an error that is the caller's fault ends the call and is
reported. A provider whose circuit breaker is open is skipped. Every call made gets
its ledger row: a failed one is stored at once, the one that answered is returned
(role ``fallback`` when it was not the agent's own model) to be stored with the
message it produced.

A stream that broke midway is not shown twice: when text of a failed call had been
streamed and another model takes over, the observer's ``on_restart`` is called
before the new call's first delta (``chat.restart`` over the gateway): what was
streamed before it is void, and the deltas after it are the whole answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from roost.agents.observer import TurnObserver
from roost.ledger.ledger import CallRecord, Ledger, LedgerEntry
from roost.ledger.roles import LedgerRole
from roost.providers.base import ModelRequest, ModelResponse, Provider, ProviderError
from roost.providers.breaker import Breakers

log = logging.getLogger(__name__)

RecordFactory = Callable[[Provider, str, ModelResponse | None, str | None, int], CallRecord]
"""Builds a call's ledger record from (provider, model, response, error, duration_ms)."""


@dataclass(frozen=True)
class CallOutcome:
    response: ModelResponse | None
    entry: LedgerEntry | None
    """The last call's row, to store with what it produced; ``None`` if no call was made."""
    error: str | None = None


class _StreamWatch:
    """Forwards deltas to the observer, remembering whether any went out."""

    def __init__(self, observer: TurnObserver) -> None:
        self._observer = observer
        self.streamed = False

    async def on_text(self, delta: str) -> None:
        self.streamed = True
        await self._observer.on_text(delta)


async def call_with_failover(
    chain: Sequence[tuple[Provider, str]],
    request: ModelRequest,
    observer: TurnObserver,
    ledger: Ledger,
    record: RecordFactory,
    breakers: Breakers | None = None,
    role: LedgerRole = LedgerRole.ROUTINE,
) -> CallOutcome:
    """Run ``request`` on the first model of ``chain`` that answers; the first model's
    calls are recorded with ``role``, the others' with ``fallback``."""
    watch = _StreamWatch(observer)
    error: str | None = None
    entry: LedgerEntry | None = None
    # Skipping needs somewhere else to go: an agent without fallbacks still calls.
    in_use = breakers if len(chain) > 1 else None
    for index, (provider, model) in enumerate(chain):
        breaker = in_use.get(provider.name) if in_use is not None else None
        if breaker is not None and not breaker.allow():
            log.info("skipping %s/%s: its circuit breaker is open", provider.name, model)
            error = error or f"{provider.name}: skipped while its circuit breaker is open"
            continue
        if entry is not None:  # an earlier call failed: keep its row, then fail over
            await ledger.store(entry)
        if watch.streamed:
            await observer.on_restart()
            watch.streamed = False
        try:
            # The first model is usually the request's own: no copy of it then.
            same = request.model == model
            response, failure, duration_ms = await _call(
                provider, request if same else replace(request, model=model), watch
            )
        except BaseException:
            if breaker is not None:
                breaker.released()
            raise
        error = str(failure) if failure is not None else None
        call = record(provider, model, response, error, duration_ms)
        call_role = role if index == 0 else LedgerRole.FALLBACK
        entry = ledger.entry(call if call.role == call_role else replace(call, role=call_role))
        if response is not None:
            if breaker is not None:
                breaker.succeeded()
            return CallOutcome(response, entry)
        transient = failure is not None and failure.transient
        if breaker is not None:
            breaker.failed() if transient else breaker.released()
        if not transient:
            return CallOutcome(None, entry, error)
        if breakers is not None and index + 1 < len(chain):
            breakers.count_failover(provider.name)
        log.warning("%s/%s failed (%s); trying the next model", provider.name, model, error)
    return CallOutcome(None, entry, error)


async def _call(
    provider: Provider, request: ModelRequest, watch: _StreamWatch
) -> tuple[ModelResponse | None, ProviderError | None, int]:
    """One call, timed from the request being sent: the SDK is warmed up first (its
    import and client are not the provider's time)."""
    started = time.perf_counter()
    try:
        await provider.warm_up()
        started = time.perf_counter()
        response = await provider.complete(request, watch.on_text)
    except ProviderError as exc:
        return None, exc, _ms_since(started)
    return response, None, _ms_since(started)


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)

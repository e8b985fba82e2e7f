"""Warm-up: what the first turn would otherwise load, loaded off the loop at start.

Importing a provider's SDK and building its client (about a second of CPU, several on
a busy machine), reading the model prices (genai-prices, then the day's rates file
written) and importing prometheus_client would all happen at the first turn; started
right after the process is ready, they run in worker threads instead, one after the
other, while the loop serves ``/healthz`` and whatever arrives. A turn that arrives
meanwhile waits only for its own provider's client (``Provider.warm_up`` shares one
lock per provider), nothing else does. Their threads are ones a stop leaves behind
(``roost.providers.own_thread``): `roost run` stopped during its warm-up exits at once.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Iterable, Mapping

from roost.config.settings import AgentSettings
from roost.ledger.pricing import PriceTable
from roost.providers.base import Provider, ProviderError
from roost.providers.own_thread import in_own_thread

log = logging.getLogger(__name__)

__all__ = ["models_in_use", "warm_up"]


def models_in_use(agents: Iterable[AgentSettings]) -> list[tuple[str, str]]:
    """Every (provider, model) an agent may call: its model and its fallbacks, in order."""
    seen: list[tuple[str, str]] = []
    for agent in agents:
        chain = [(agent.provider, agent.model)] if agent.provider else []
        for ref in (*chain, *agent.fallbacks):
            if ref not in seen:
                seen.append(ref)
    return seen


async def warm_up(
    providers: Mapping[str, Provider],
    models: Iterable[tuple[str, str]],
    prices: PriceTable,
    modules: Iterable[str] = (),
) -> None:
    """Build the used providers' clients, look their models' prices up and import
    ``modules``, each in a worker thread. Never raises: a failure here is met again,
    and reported, by the call that needs it."""
    used = list(models)
    for name in dict.fromkeys(provider for provider, _ in used):
        provider = providers.get(name)
        if provider is None:
            continue
        try:
            await provider.warm_up()
        except ProviderError as exc:
            log.warning("warm-up: %s", exc)
        except Exception:
            log.exception("warm-up of provider %s failed", name)
    try:
        await in_own_thread(
            functools.partial(_load_prices_and_modules, prices, used, tuple(modules))
        )
    except Exception:
        log.exception("warm-up of the prices failed")
    log.debug("warm-up done")


def _load_prices_and_modules(
    prices: PriceTable, models: list[tuple[str, str]], modules: tuple[str, ...]
) -> None:
    for provider, model in models:
        prices.lookup(provider, model)  # imports genai-prices, writes the day's rates file
    for module in modules:
        importlib.import_module(module)

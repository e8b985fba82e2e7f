"""What a model call costs, in USD, from the tokens the API reported.

Prices come from ``models:`` in the config first (USD per million tokens, by
``provider/model`` or bare model id), then from the ``genai-prices`` package's bundled
database (see ``catalog.py``). Unknown models cost 0 and are marked unpriced, so
reports can say so. Every price says where it came from (``source``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roost.ledger.catalog import Catalog
from roost.providers.base import Usage

if TYPE_CHECKING:
    from roost.config.settings import Settings

SOURCE_CONFIG = "config"
SOURCE_NONE = "none"
RATES_FILE = "prices-today.json"


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_read: float
    cache_write: float


@dataclass(frozen=True)
class ProviderRef:
    """What the price database needs to know of a configured provider."""

    type: str
    base_url: str | None = None


class PriceTable:
    def __init__(
        self,
        overrides: Mapping[str, Price] | None = None,
        providers: Mapping[str, ProviderRef] | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self._overrides = dict(overrides or {})
        self._providers = dict(providers or {})
        self._catalog = catalog or Catalog()

    @classmethod
    def for_settings(cls, settings: Settings) -> PriceTable:
        """The table for a config: its ``models:`` overrides and its providers."""
        # Unset cache rates fall back to the input rate: never cheaper than reality.
        overrides = {
            key: Price(
                input=price.input,
                output=price.output,
                cache_read=price.input if price.cache_read is None else price.cache_read,
                cache_write=price.input if price.cache_write is None else price.cache_write,
            )
            for key, price in settings.prices.items()
        }
        providers = {
            name: ProviderRef(config.type, config.base_url)
            for name, config in settings.providers.items()
        }
        # The home's rates file spares a cold `roost ask` loading the price database.
        return cls(overrides, providers, Catalog(settings.home / RATES_FILE))

    def lookup(self, provider: str, model: str) -> Price | None:
        """The price of ``provider/model`` (below any long-context tier), or ``None``.

        Tries an override for ``provider/model``, then for the bare model id, then
        genai-prices for the provider's API address or type, the vendor of a
        ``vendor/model`` id, and the provider its model-name rules point to. There is no
        prefix matching on purpose: ``gpt-5-pro`` priced as ``gpt-5`` would understate
        its cost twelvefold.
        """
        override = self._override(provider, model)
        if override is not None:
            return override
        rates = self._catalog.rates(*self._ref(provider), model)
        if rates is None:
            return None
        return Price(*(rate.base for rate in rates))

    def source(self, provider: str, model: str) -> str:
        """Where ``provider/model``'s price comes from: config, genai-prices <version>, none."""
        if self._override(provider, model) is not None:
            return SOURCE_CONFIG
        if self._catalog.rates(*self._ref(provider), model) is not None:
            return self._catalog.source
        return SOURCE_NONE

    def cost(self, provider: str, model: str, usage: Usage) -> tuple[float, bool]:
        """USD cost of one call and whether the model was priced at all."""
        price = self._override(provider, model)
        if price is not None:
            total = (
                usage.input_tokens * price.input
                + usage.output_tokens * price.output
                + usage.cache_read_tokens * price.cache_read
                + usage.cache_write_tokens * price.cache_write
            )
            return total / 1_000_000, True
        rates = self._catalog.rates(*self._ref(provider), model)
        if rates is None:
            return 0.0, False
        return rates.cost(usage), True

    def _override(self, provider: str, model: str) -> Price | None:
        for key in (f"{provider}/{model}", model):
            if key in self._overrides:
                return self._overrides[key]
        return None

    def _ref(self, provider: str) -> tuple[str | None, str | None]:
        """(provider id, API address) to look a configured provider up by."""
        ref = self._providers.get(provider)
        if ref is None:
            return None, None  # unknown name: genai-prices guesses from the model id
        return ref.type, ref.base_url

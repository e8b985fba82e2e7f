"""Published model prices from the ``genai-prices`` package, as bundled in its wheel.

``genai-prices`` is a maintained price database for LLM APIs (token rates with long-context
tiers and dated price changes, cache read and write rates). Roost reads the data bundled
with the installed version and nothing else:

- never the network: its ``UpdatePrices`` downloader is opt-in and never started here, and
  Roost keeps a snapshot of its own built from the bundled data, so a downloader started by
  another library in the same process cannot change Roost's prices either;
- lazily: the package and its data (~40 ms, ~4.5 MB) load at the first price needed, not
  at start-up, so a command that prices nothing never pays for them.

Lookups are cached per (provider, model), misses included.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from genai_prices.data_snapshot import DataSnapshot
    from genai_prices.types import ModelInfo, Provider

    from roost.providers.base import Usage

PACKAGE = "genai-prices"
_Key = tuple[str | None, str | None, str]


class Rates(NamedTuple):
    """USD per million tokens, at the base tier (below any long-context threshold)."""

    input: float
    output: float
    cache_read: float
    cache_write: float


class Catalog:
    """Prices of models as ``genai-prices`` publishes them."""

    def __init__(self) -> None:
        self._snapshot: DataSnapshot | None = None
        self._version = ""
        self._found: dict[_Key, tuple[Provider, ModelInfo] | None] = {}

    @property
    def source(self) -> str:
        """``genai-prices <version>``, the label reports show beside prices from here."""
        self._load()
        return f"{PACKAGE} {self._version}"

    def find(
        self, provider_id: str | None, api_url: str | None, model: str
    ) -> tuple[Provider, ModelInfo] | None:
        """The catalog's provider and model for a call, or ``None`` when it has no price.

        Tries the provider at ``api_url`` when that is a known API, else ``provider_id``
        (Roost's provider type; only that for an unknown address: a local server); then,
        for ``vendor/model`` ids (OpenRouter style), the vendor and the bare id. With
        neither given, the provider is guessed from the model id (``claude-*``).
        Misses are cached too, so an unpriced local model costs one search per process.
        """
        key = (provider_id, api_url, model)
        if key not in self._found:
            self._found[key] = self._search(provider_id, api_url, model)
        return self._found[key]

    def rates(self, provider_id: str | None, api_url: str | None, model: str) -> Rates | None:
        """Today's base-tier rates for a model, or ``None`` when it has no token prices."""
        found = self.find(provider_id, api_url, model)
        return None if found is None else _rates(found[1])

    def cost(self, provider_id: str | None, api_url: str | None, model: str, usage: Usage) -> float:
        """USD cost of one call made now (long-context tiers applied); 0 when unpriced."""
        found = self.find(provider_id, api_url, model)
        if found is None:
            return 0.0
        from genai_prices import Usage as CatalogUsage

        provider, info = found
        # genai-prices counts cached input inside input_tokens; Roost's Usage does not.
        cached = usage.cache_read_tokens + usage.cache_write_tokens
        calculation = info.calc_price(
            CatalogUsage(
                input_tokens=usage.input_tokens + cached,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
            ),
            provider,
            genai_request_timestamp=datetime.now(UTC),
        )
        return float(calculation.total_price)

    def _load(self) -> DataSnapshot:
        if self._snapshot is None:
            import genai_prices
            from genai_prices.data import providers
            from genai_prices.data_snapshot import DataSnapshot

            self._version = genai_prices.__version__
            self._snapshot = DataSnapshot(providers=providers, from_auto_update=False)
        return self._snapshot

    def _search(
        self, provider_id: str | None, api_url: str | None, model: str
    ) -> tuple[Provider, ModelInfo] | None:
        snapshot = self._load()
        for attempt_provider, attempt_url, attempt_model in self._attempts(
            snapshot, provider_id, api_url, model
        ):
            try:
                found = snapshot.find_provider_model(
                    attempt_model, None, attempt_provider, attempt_url
                )
            except LookupError:
                continue
            if _rates(found[1]) is not None:
                return found
        return None

    @staticmethod
    def _attempts(
        snapshot: DataSnapshot, provider_id: str | None, api_url: str | None, model: str
    ) -> list[_Key]:
        """The (provider, API address, model) lookups to try, most specific first."""
        vendor, _, bare = model.rpartition("/")
        by_vendor: list[_Key] = [(vendor.rsplit("/", 1)[-1], None, bare)] if vendor else []
        if api_url is not None:
            try:
                snapshot.find_provider(None, None, api_url)
            except LookupError:
                # A local server or a proxy: its type's prices at most, never a guess
                # (a local deepseek-r1:14b is not billed at DeepSeek's API rates).
                return [(provider_id, None, model)]
            return [(None, api_url, model), *by_vendor]
        if provider_id is not None:
            return [(provider_id, None, model), *by_vendor]
        # A provider no longer configured: guess from the model id (claude-* is Anthropic's).
        return [*by_vendor, (None, None, bare or model)]


def _rates(info: ModelInfo) -> Rates | None:
    from genai_prices.types import TieredPrices

    prices = info.get_prices(datetime.now(UTC))

    def rate(name: str) -> float | None:
        value = getattr(prices, name, None)
        if isinstance(value, TieredPrices):
            value = value.base
        return None if value is None else float(Decimal(value))

    input_rate, output_rate = rate("input_mtok"), rate("output_mtok")
    if input_rate is None or output_rate is None:
        return None  # an image, audio or embedding price: not a chat model's
    cache_read, cache_write = rate("cache_read_mtok"), rate("cache_write_mtok")
    # Without a rate of their own, cached tokens are billed as input (OpenAI writes).
    return Rates(
        input_rate,
        output_rate,
        input_rate if cache_read is None else cache_read,
        input_rate if cache_write is None else cache_write,
    )

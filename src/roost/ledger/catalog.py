"""Published model prices from the ``genai-prices`` package, as bundled in its wheel.

``genai-prices`` is a maintained price database for LLM APIs (token rates with long-context
tiers and dated price changes, cache read and write rates). Roost reads the data bundled
with the installed version and nothing else:

- never the network: its ``UpdatePrices`` downloader is opt-in and never started here, and
  Roost keeps a snapshot of its own built from the bundled data, so a downloader started by
  another library in the same process cannot change Roost's prices either;
- lazily: the package and its data (~40 ms, ~4.5 MB) load at the first price that is not
  already in the home's rates file (``rates_file.py``), so a cold ``roost ask`` on a model
  priced earlier the same day, or a command that prices nothing, never pays for them.

A model's rates are kept per UTC day (prices change on dates), misses included, and a call
is priced with a few multiplications (``rates.py``), not by genai-prices' ``calc_price``
(~0.5 ms a call: it validates its whole unit registry each time).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from roost.ledger.rates import Rate, Rates
from roost.ledger.rates_file import Key, RatesFile, data_stamp

if TYPE_CHECKING:
    from genai_prices.data_snapshot import DataSnapshot
    from genai_prices.types import ModelInfo

PACKAGE = "genai-prices"


class Catalog:
    """Prices of models as ``genai-prices`` publishes them."""

    def __init__(self, rates_file: Path | None = None) -> None:
        self._snapshot: DataSnapshot | None = None
        self._source = ""
        self._file = RatesFile(rates_file) if rates_file is not None else None
        self._day = -1
        self._stamp: str | None = None
        self._rates: dict[Key, Rates | None] = {}

    @property
    def source(self) -> str:
        """``genai-prices <version>``, the label reports show beside prices from here."""
        if not self._source:
            self._load()
        return self._source

    def rates(self, provider_id: str | None, api_url: str | None, model: str) -> Rates | None:
        """Today's rates for a model, or ``None`` when it has no token prices.

        Looks at the provider at ``api_url`` when that is a known API, else ``provider_id``
        (Roost's provider type; only that for an unknown address: a local server); then,
        for ``vendor/model`` ids (OpenRouter style), the vendor and the bare id. With
        neither given, the provider is guessed from the model id (``claude-*``).
        """
        key = (provider_id, api_url, model)
        day = int(time.time() // 86_400)  # the UTC day
        if day != self._day:
            self._start_day(day)
        if key not in self._rates:
            found = self._search(*key)
            self._rates[key] = None if found is None else _rates(found)
            if self._file is not None and self._stamp is not None:
                self._file.write(self._stamp, self.source, self._rates)
        return self._rates[key]

    def _start_day(self, day: int) -> None:
        self._day = day
        self._rates = {}
        self._stamp = data_stamp(day) if self._file is not None else None
        if self._file is not None and self._stamp is not None:
            saved = self._file.read(self._stamp)
            if saved is not None:
                self._source, self._rates = saved

    def _load(self) -> DataSnapshot:
        if self._snapshot is None:
            import genai_prices
            from genai_prices.data import providers
            from genai_prices.data_snapshot import DataSnapshot

            self._source = f"{PACKAGE} {genai_prices.__version__}"
            self._snapshot = DataSnapshot(providers=providers, from_auto_update=False)
        return self._snapshot

    def _search(self, provider_id: str | None, api_url: str | None, model: str) -> ModelInfo | None:
        snapshot = self._load()
        for attempt_provider, attempt_url, attempt_model in _attempts(
            snapshot, provider_id, api_url, model
        ):
            try:
                _, info = snapshot.find_provider_model(
                    attempt_model, None, attempt_provider, attempt_url
                )
            except LookupError:
                continue
            if _rates(info) is not None:
                return info
        return None


def _attempts(
    snapshot: DataSnapshot, provider_id: str | None, api_url: str | None, model: str
) -> list[Key]:
    """The (provider, API address, model) lookups to try, most specific first."""
    vendor, _, bare = model.rpartition("/")
    by_vendor: list[Key] = [(vendor.rsplit("/", 1)[-1], None, bare)] if vendor else []
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

    def rate(name: str) -> Rate | None:
        value = getattr(prices, name, None)
        if isinstance(value, TieredPrices):
            tiers = tuple((tier.start, float(tier.price)) for tier in value.tiers)
            return Rate(float(value.base), tiers)
        return None if value is None else Rate(float(Decimal(value)))

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

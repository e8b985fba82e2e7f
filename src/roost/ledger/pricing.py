"""What a model call costs, in USD, from the tokens the API reported.

Defaults cover current Claude and GPT models (USD per million tokens, list prices
as published by Anthropic and OpenAI); ``models:`` in the config overrides or adds.
Unknown models cost 0 and are marked unpriced, so reports can say so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from roost.providers.base import Usage


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_read: float
    cache_write: float


def _claude(input_price: float, output_price: float) -> Price:
    # Anthropic: cache reads at 0.1x input, 5-minute cache writes at 1.25x input.
    return Price(input_price, output_price, input_price * 0.1, input_price * 1.25)


def _gpt(input_price: float, output_price: float, cached: float) -> Price:
    # OpenAI bills no separate cache write; cached input has its own rate.
    return Price(input_price, output_price, cached, input_price)


DEFAULT_PRICES: dict[str, Price] = {
    "claude-opus-4-5": _claude(5.0, 25.0),
    "claude-opus-4-1": _claude(15.0, 75.0),
    "claude-opus-4": _claude(15.0, 75.0),
    "claude-sonnet-4-5": _claude(3.0, 15.0),
    "claude-sonnet-4": _claude(3.0, 15.0),
    "claude-3-7-sonnet": _claude(3.0, 15.0),
    "claude-haiku-4-5": _claude(1.0, 5.0),
    "claude-3-5-haiku": _claude(0.8, 4.0),
    "gpt-5": _gpt(1.25, 10.0, 0.125),
    "gpt-5-mini": _gpt(0.25, 2.0, 0.025),
    "gpt-5-nano": _gpt(0.05, 0.40, 0.005),
    "gpt-4.1": _gpt(2.0, 8.0, 0.50),
    "gpt-4.1-mini": _gpt(0.40, 1.60, 0.10),
    "gpt-4.1-nano": _gpt(0.10, 0.40, 0.025),
    "gpt-4o": _gpt(2.50, 10.0, 1.25),
    "gpt-4o-mini": _gpt(0.15, 0.60, 0.075),
    "o4-mini": _gpt(1.10, 4.40, 0.275),
    "o3": _gpt(2.0, 8.0, 0.50),
}

_DATE_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$")


class PriceTable:
    def __init__(self, overrides: Mapping[str, Price] | None = None) -> None:
        self._overrides = dict(overrides or {})

    def lookup(self, provider: str, model: str) -> Price | None:
        """The price of ``provider/model``, or ``None`` when it is unknown.

        Tries, in order: an override for ``provider/model``, an override for the
        bare model id, then the defaults by exact id, by id without a date suffix
        (``claude-haiku-4-5-20251001``) and by the last path segment (OpenRouter's
        ``anthropic/claude-sonnet-4-5``). There is no fuzzy matching on purpose:
        ``gpt-5-pro`` priced as ``gpt-5`` would understate its cost twelvefold.
        """
        for key in (f"{provider}/{model}", model):
            if key in self._overrides:
                return self._overrides[key]
        candidates = [model, _DATE_SUFFIX.sub("", model)]
        last = model.rsplit("/", 1)[-1]
        candidates += [last, _DATE_SUFFIX.sub("", last)]
        for candidate in candidates:
            if candidate in DEFAULT_PRICES:
                return DEFAULT_PRICES[candidate]
        return None

    def cost(self, provider: str, model: str, usage: Usage) -> tuple[float, bool]:
        """USD cost of one call and whether the model was priced at all."""
        price = self.lookup(provider, model)
        if price is None:
            return 0.0, False
        total = (
            usage.input_tokens * price.input
            + usage.output_tokens * price.output
            + usage.cache_read_tokens * price.cache_read
            + usage.cache_write_tokens * price.cache_write
        )
        return total / 1_000_000, True

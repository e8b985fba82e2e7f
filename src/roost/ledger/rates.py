"""A model's token rates on one day, and what a call costs at them."""

from __future__ import annotations

from typing import NamedTuple

from roost.providers.base import Usage


class Rate(NamedTuple):
    """USD per million tokens: ``base``, or a tier's price once a call's input exceeds its start."""

    base: float
    tiers: tuple[tuple[int, float], ...] = ()

    def at(self, total_input: int) -> float:
        # A "cliff": past a tier's start, all the call's tokens pay the tier's price.
        for start, price in reversed(self.tiers):
            if total_input > start:
                return price
        return self.base


class Rates(NamedTuple):
    input: Rate
    output: Rate
    cache_read: Rate
    cache_write: Rate

    def cost(self, usage: Usage) -> float:
        """USD for one call; Roost's ``input_tokens`` excludes the cached ones."""
        total = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
        return (
            usage.input_tokens * self.input.at(total)
            + usage.output_tokens * self.output.at(total)
            + usage.cache_read_tokens * self.cache_read.at(total)
            + usage.cache_write_tokens * self.cache_write.at(total)
        ) / 1_000_000

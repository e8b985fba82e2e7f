"""The ledger: one row per model call, its price, the reports and the budgets.

- ``ledger``: `Ledger`, recording calls and reporting usage and cost;
- ``pricing``: `PriceTable`, USD per million tokens; ``rates``: a model's rates on one
  day and a call's cost at them; ``catalog``: the published prices (``genai-prices``);
  ``rates_file``: today's rates kept on disk, so a cold `roost ask` need not load them;
- ``budget``: `BudgetGuard`, caps checked before every model call;
- ``roles``: `LedgerRole`, what each recorded call was for.
"""

__all__ = [
    "budget",
    "catalog",
    "ledger",
    "pricing",
    "rates",
    "rates_file",
    "roles",
]

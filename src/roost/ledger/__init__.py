"""The ledger: one row per model call, its price, the reports and the budgets.

- ``ledger``: `Ledger`, recording calls and reporting usage and cost;
- ``pricing``: `PriceTable`, USD per million tokens;
- ``budget``: `BudgetGuard`, caps checked before every model call.
"""

__all__ = [
    "budget",
    "ledger",
    "pricing",
]

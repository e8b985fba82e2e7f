"""The outbox table has one owner: ``bus/store.py`` writes every row of ``deliveries``.

The scheduler once inserted its alerts with a copy of the bus store's insert, which could
drift (another column, another meta encoding) unnoticed; it now queues them through
``queue_delivery``, in the transaction that records the run's end. This holds it there:
no other module of the package imports the table.
"""

from __future__ import annotations

import ast
from pathlib import Path

import roost

PACKAGE = Path(roost.__file__).parent
OWNER = PACKAGE / "bus" / "store.py"
DEFINITION = PACKAGE / "store" / "tables.py"


def _imports_the_outbox_table(source: Path) -> bool:
    tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "roost.store.tables"
            and any(alias.name == "deliveries" for alias in node.names)
        ):
            return True
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "deliveries"
            and isinstance(node.value, ast.Name)
            and node.value.id == "tables"
        ):
            return True
    return False


def test_only_the_bus_store_touches_the_deliveries_table() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert OWNER in modules
    touching = [
        str(module.relative_to(PACKAGE))
        for module in modules
        if module != DEFINITION and _imports_the_outbox_table(module)
    ]
    assert touching == ["bus/store.py"]

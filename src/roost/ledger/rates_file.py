"""Today's rates of the models a home has priced, on disk, so a cold ``roost ask`` need not
load genai-prices (~40 ms on an idle machine, several times that under load).

The file is valid for one installed genai-prices data file (path, size, mtime) and one UTC
day (prices change on dates); anything else, or a file that cannot be read, is ignored and
rewritten. It holds public list prices only.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roost.ledger.rates import Rate, Rates

log = logging.getLogger(__name__)

Key = tuple[str | None, str | None, str]
"""(provider id, API address, model id) as looked up."""


def data_stamp(day: int) -> str | None:
    """What the file must have been written for: the data genai-prices would load, and the day."""
    spec = importlib.util.find_spec("genai_prices")
    if spec is None or spec.origin is None:
        return None
    data = Path(spec.origin).with_name("data.py")
    try:
        stat = data.stat()
    except OSError:
        return None
    return f"{data}:{stat.st_size}:{stat.st_mtime_ns}:{day}"


class RatesFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, stamp: str) -> tuple[str, dict[Key, Rates | None]] | None:
        """(price source label, entries) when the file was written for ``stamp``."""
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            if document.get("stamp") != stamp:
                return None
            entries = {
                (provider, url, model): _rates(value)
                for provider, url, model, value in document["entries"]
            }
            return str(document["source"]), entries
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.debug("ignoring the prices cache %s: %s", self.path, exc)
            return None

    def write(self, stamp: str, source: str, entries: Mapping[Key, Rates | None]) -> None:
        """Replace the file atomically; a failure only costs the next process a lookup."""
        document = {
            "stamp": stamp,
            "source": source,
            "entries": [
                [*key, None if rates is None else list(rates)] for key, rates in entries.items()
            ],
        }
        try:
            fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".prices-")
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(document, file)
            os.replace(temporary, self.path)
        except OSError as exc:
            log.debug("cannot write the prices cache %s: %s", self.path, exc)


def _rates(value: Any) -> Rates | None:
    if value is None:
        return None
    return Rates(
        *(Rate(float(base), tuple((int(s), float(p)) for s, p in tiers)) for base, tiers in value)
    )

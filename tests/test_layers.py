"""The layers: the timing leaf and the configuration load nothing above them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import roost

SRC = Path(roost.__file__).parent


def _roost_modules_after(*imports: str) -> set[str]:
    """The ``roost`` modules a fresh interpreter holds after ``imports``."""
    code = "import sys\n" + "".join(f"import {name}\n" for name in imports)
    code += "print('\\n'.join(m for m in sys.modules if m == 'roost' or m.startswith('roost.')))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return set(done.stdout.split())


def test_timing_is_a_leaf_that_loads_nothing_else_of_roost() -> None:
    modules = [f"roost.timing.{path.stem}" for path in (SRC / "timing").glob("[!_]*.py")]
    assert "roost.timing.cron" in modules
    loaded = _roost_modules_after("roost.timing", *modules)
    assert loaded == {"roost", "roost.timing", *modules}


def test_importing_the_timing_package_loads_none_of_its_modules() -> None:
    assert _roost_modules_after("roost.timing") == {"roost", "roost.timing"}
    # Its re-exports still work, each loading only its own module.
    assert _roost_modules_after("roost.timing.zones") >= {"roost.timing.zones"}
    from roost.timing import ManualClock, ScheduleError, parse_every
    from roost.timing.clock import ManualClock as clock_home

    assert ManualClock is clock_home
    with pytest.raises(ScheduleError):
        parse_every("soon")
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        roost.timing.nothing  # type: ignore[attr-defined]  # noqa: B018


def test_the_configuration_loads_no_feature() -> None:
    """The config checks schedules with roost.timing, not by importing the scheduler."""
    loaded = _roost_modules_after("roost.config.loader", "roost.config.schema")
    features = ("roost.scheduler", "roost.gateway", "roost.channels", "roost.cli", "roost.client")
    above = {name for name in loaded if name.startswith(features)}
    assert above == set()
    assert "roost.config.schedules" in loaded

"""The layers: what each package imports, and what each package says it offers.

`make layers` (import-linter, contracts in pyproject.toml) checks every import arrow;
these tests check what it cannot: that the contract names every package, that the
timing leaf and the configuration load nothing above them, and that each package's
``__init__`` documents its public modules without importing them.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import roost

SRC = Path(roost.__file__).parent
PYPROJECT = SRC.parent.parent / "pyproject.toml"


def _packages() -> list[Path]:
    return sorted(
        path.parent
        for path in SRC.rglob("__init__.py")
        if path.parent != SRC and "__pycache__" not in path.parts
    )


def _package_name(directory: Path) -> str:
    return ".".join(("roost", *directory.relative_to(SRC).parts))


def _roost_modules_after(*imports: str) -> set[str]:
    """The ``roost`` modules a fresh interpreter holds after ``imports``."""
    code = "import sys\n" + "".join(f"import {name}\n" for name in imports)
    code += "print('\\n'.join(m for m in sys.modules if m == 'roost' or m.startswith('roost.')))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return set(done.stdout.split())


def test_the_layer_contract_names_every_package_and_module() -> None:
    """A new package or top-level module must take its place in a layer, or fail here."""
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")
    assert layers["containers"] == ["roost"]
    named = {
        part.strip()
        for layer in layers["layers"]
        for part in layer.replace(":", "|").split("|")
        if part.strip()
    }
    present = {
        path.stem if path.is_file() else path.name
        for path in SRC.iterdir()
        if (path.suffix == ".py" and path.stem not in ("__init__", "__main__"))
        or (path / "__init__.py").exists()
    }
    assert named == present


def _lint_imports(source_root: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    """import-linter with the project's contracts, on the ``roost`` found in ``source_root``."""
    command = [str(Path(sys.executable).with_name("lint-imports")), "--no-logo", "--no-cache"]
    return subprocess.run(
        [*command, str(PYPROJECT)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(source_root)},
    )


def test_the_layer_contracts_hold(tmp_path: Path) -> None:
    done = _lint_imports(SRC.parent, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "importer", "imported"),
    [
        # The configuration importing the scheduler again (the old import knot).
        ("config/settings.py", "roost.scheduler.model", "roost.config", "roost.scheduler"),
        # The WebSocket channel reaching into the gateway instead of its ClientSockets.
        ("channels/websocket.py", "roost.gateway.protocol", "roost.channels", "roost.gateway"),
        # A feature's WebSocket methods written against the gateway, not features.methods.
        (
            "scheduler/gateway_methods.py",
            "roost.gateway.methods",
            "roost.scheduler",
            "roost.gateway",
        ),
        # Telegram's /jobs calling the scheduler, not the JobOperations protocol.
        (
            "channels/telegram/reports.py",
            "roost.scheduler.api",
            "roost.channels",
            "roost.scheduler",
        ),
        # The ports typing the job operations with the scheduler's class.
        ("ports.py", "roost.scheduler.api", "roost.ports", "roost.scheduler"),
    ],
)
def test_an_import_pointing_the_wrong_way_breaks_the_layers(
    tmp_path: Path, module: str, wrong_import: str, importer: str, imported: str
) -> None:
    """What `make layers` does when a cut arrow comes back (in a copy of the source)."""
    copy = tmp_path / "src" / "roost"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    source = copy / module
    source.write_text(source.read_text() + f"\nimport {wrong_import}\n")
    done = _lint_imports(copy.parent, tmp_path)
    assert done.returncode == 1
    assert f"{importer} is not allowed to import {imported}" in done.stdout
    name = "roost." + module.removesuffix(".py").replace("/", ".")
    assert f"{name} -> {wrong_import}" in done.stdout


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


def _assignments(module: ast.Module) -> list[tuple[str, ast.expr]]:
    found: list[tuple[str, ast.expr]] = []
    for node in module.body:
        if isinstance(node, ast.Assign):
            found += [(t.id, node.value) for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            found.append((node.target.id, node.value))
    return found


@pytest.mark.parametrize("directory", _packages(), ids=_package_name)
def test_each_package_says_what_it_offers(directory: Path) -> None:
    init = ast.parse((directory / "__init__.py").read_text())
    docstring = ast.get_docstring(init)
    assert docstring, f"{_package_name(directory)}: no docstring"
    assert len(docstring.splitlines()[0]) <= 100
    exported = next(value for target, value in _assignments(init) if target == "__all__")
    names = ast.literal_eval(exported)
    if directory.name == "migrations":
        return  # Alembic's environment: run by Alembic, never imported.
    package = importlib.import_module(_package_name(directory))
    for name in names:
        assert getattr(package, name, None) is not None or importlib.util.find_spec(
            f"{package.__name__}.{name}"
        ), f"{package.__name__}.__all__ names {name!r}, which is not there"


@pytest.mark.parametrize(
    "package", ["roost.agents", "roost.bus", "roost.config", "roost.gateway", "roost.scheduler"]
)
def test_importing_a_package_loads_none_of_its_modules(package: str) -> None:
    assert _roost_modules_after(package) == {"roost", package}

"""`roost service`: the unit it writes (checked by systemd-analyze when present) and the
systemctl commands it runs (a recording stand-in: tests never run systemctl)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from roost.cli.systemd_unit import UnitSpec, quote_arg, render_unit
from tests.ops.conftest import roost


@pytest.fixture
def fake_systemctl(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose systemctl records its arguments, one call per line."""
    calls = tmp_path / "systemctl-calls"
    script = tmp_path / "fake-systemctl"
    script.write_text(f'#!/bin/sh\necho "$*" >> {calls}\necho "fake status output"\n')
    script.chmod(0o755)
    return {**os.environ, "ROOST_SYSTEMCTL": str(script)}, calls


def _unit_path() -> Path:
    return Path(os.environ["HOME"]) / ".config" / "systemd" / "user" / "roost.service"


def test_dry_run_prints_the_unit_and_commands_and_changes_nothing(config: Path) -> None:
    result = roost("service", "install", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"would write {_unit_path()}" in result.stdout
    assert f"ExecStart={sys.executable} -m roost run --config {config}" in result.stdout
    assert "Type=notify" in result.stdout and "WatchdogSec=60" in result.stdout
    assert "$ systemctl --user enable --now roost.service" in result.stdout
    assert "loginctl enable-linger" in result.stdout
    assert not _unit_path().exists()


def test_install_writes_and_enables_then_uninstall_removes(
    config: Path, fake_systemctl: tuple[dict[str, str], Path]
) -> None:
    env, calls = fake_systemctl
    installed = roost("service", "install", env=env)
    assert installed.returncode == 0, installed.stderr
    unit = _unit_path().read_text()
    assert "Restart=on-failure" in unit and "WantedBy=default.target" in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit  # systemctl reload: roost reloads
    assert calls.read_text().splitlines() == [
        "--user daemon-reload",
        "--user enable --now roost.service",
    ]

    status = roost("service", "status", env=env)
    assert "present" in status.stdout and "fake status output" in status.stdout

    removed = roost("service", "uninstall", env=env)
    assert removed.returncode == 0, removed.stderr
    assert not _unit_path().exists()
    assert calls.read_text().splitlines()[-2:] == [
        "--user disable --now roost.service",
        "--user daemon-reload",
    ]
    again = roost("service", "uninstall", env=env)
    assert again.returncode == 1 and "nothing to uninstall" in again.stderr


def test_a_failing_systemctl_is_reported_without_a_traceback(config: Path, tmp_path: Path) -> None:
    failing = tmp_path / "failing-systemctl"
    failing.write_text("#!/bin/sh\necho 'Failed to connect to bus' >&2\nexit 1\n")
    failing.chmod(0o755)
    result = roost("service", "install", env={**os.environ, "ROOST_SYSTEMCTL": str(failing)})
    assert result.returncode == 1 and "Failed to connect to bus" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
@pytest.mark.parametrize("config_path", [Path("/srv/my roost/roost.yaml"), None])
def test_systemd_analyze_accepts_the_unit(tmp_path: Path, config_path: Path | None) -> None:
    spec = UnitSpec(
        config_path, tmp_path / "home 100% $HOME", system=config_path is None, user="roost"
    )
    path = tmp_path / "roost.service"
    path.write_text(render_unit(spec))
    checked = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stderr
    assert str(path) not in checked.stderr  # no warning about any line of it


def test_unit_words_are_escaped_for_systemd() -> None:
    assert quote_arg("/plain/path") == "/plain/path"
    assert quote_arg("/a b/c") == '"/a b/c"'
    assert quote_arg("100%$x") == "100%%$$x"
    assert quote_arg('say "hi"\\') == '"say \\"hi\\"\\\\"'
    with pytest.raises(ValueError, match="control character"):
        quote_arg("line\nbreak")

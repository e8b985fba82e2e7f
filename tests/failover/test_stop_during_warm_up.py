"""`roost run` stopped during its warm-up exits without waiting for the warm-up's thread.

The child's SDK import is held for ever (a ``sitecustomize`` on its ``PYTHONPATH`` makes
the import of ``anthropic`` block in whichever thread does it), so a stop that waited for
the warm-up's thread would never end: the child exiting at all, with status 0, shows
that nothing waits for it.
"""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM
from tests.support.roost_run import START_WAIT_S, RoostRun, start_roost_run

HOLD_IMPORT = textwrap.dedent(
    """\
    import os, sys, threading

    class HoldAnthropic:
        def find_spec(self, name, path=None, target=None):
            if name == "anthropic":
                marker = os.environ["HELD_IMPORT_MARKER"]
                with open(marker + ".tmp", "w") as file:
                    file.write(threading.current_thread().name)
                os.replace(marker + ".tmp", marker)
                threading.Event().wait()  # never released
            return None

    sys.meta_path.insert(0, HoldAnthropic())
    """
)


def _wait_for_held_import(marker: Path, run: RoostRun) -> str:
    """The name of the thread the held import is in, once it is (another process: polled)."""
    deadline = time.monotonic() + START_WAIT_S
    while not marker.exists():
        assert run.process.poll() is None, f"roost run exited:\n{run.stderr()}"
        assert time.monotonic() < deadline, "the warm-up never began importing the SDK"
        time.sleep(0.02)
    return marker.read_text(encoding="utf-8")


def test_roost_run_stopped_during_its_warm_up_exits_without_waiting_for_the_sdk_import(
    fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    write_config(
        provider_yaml(fake_llm)
        + textwrap.dedent(
            f"""\
            home: {home}
            gateway: {{port: 0, token: warm-up-token}}
            agents:
              assistant: {{model: claude/claude-haiku-4-5, tools: []}}
            """
        )
    )
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(HOLD_IMPORT, encoding="utf-8")
    marker = tmp_path / "import-held"
    path = os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "HELD_IMPORT_MARKER": str(marker)}

    run = start_roost_run(home, env=env)
    try:
        holder = _wait_for_held_import(marker, run)
        assert holder.startswith("roost-load")  # the warm-up's own thread, not the loop's
        stopped = time.monotonic()
        status = run.stop()
        took = time.monotonic() - stopped
    finally:
        run.stop()
    assert status == 0, f"exit status {status} after {took:.1f} s:\n{run.stderr()}"
    assert not (home / "gateway.json").exists()  # a clean stop, not a kill

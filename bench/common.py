"""Shared pieces of the benchmarks: a fake LLM on loopback, a throwaway config, stats, output.

Every benchmark prints one JSON object (the figures) on stdout, then a human summary
on stderr, so `python bench/x.py > x.json` keeps the machine-readable part clean.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def fake_llm_process(command: Sequence[str] | None = None) -> Iterator[str]:
    """The fake LLM server in its own process (so it does not share our CPU time slices).

    ``command``: another server to start instead (its first line of output is its URL);
    its log goes nowhere, as requests cut short by a benchmark's kills are logged.
    """
    process = subprocess.Popen(
        list(command or [sys.executable, "-m", "tests.fakes.llm_server", "--port", "0"]),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if command else None,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"fake LLM did not start (said {url!r})")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


PROVIDER_LINES = {
    "anthropic": (
        'claude: {{type: anthropic, base_url: "{url}", api_key: bench}}',
        "claude/claude-haiku-4-5",
    ),
    "openai": ('gpt: {{type: openai, base_url: "{url}/v1", api_key: bench}}', "gpt/gpt-5-mini"),
}
"""Per provider: its line under ``providers:`` (``{url}``: the fake LLM's) and its model."""


def write_gateway_config(
    directory: Path, url: str, token: str, agents: Sequence[str], provider: str = "anthropic"
) -> None:
    """``directory/roost.yaml`` for a `roost run` bench: one provider on the fake LLM at
    ``url``, the gateway on a free port with ``token``, warnings only, ``agents`` without tools."""
    line, model = PROVIDER_LINES[provider]
    (directory / "roost.yaml").write_text(
        f"home: {directory / 'home'}\n"
        f"providers:\n  {line.format(url=url)}\n"
        f"gateway: {{port: 0, token: {token}}}\n"
        "logging: {level: WARNING}\n"
        "agents:\n" + "".join(f"  {name}: {{model: {model}, tools: []}}\n" for name in agents),
        encoding="utf-8",
    )


@contextmanager
def roost_home(url: str) -> Iterator[tuple[Path, dict[str, str]]]:
    """A temporary directory with a roost.yaml pointing both providers at ``url``."""
    with tempfile.TemporaryDirectory(prefix="roost-bench-") as tmp:
        directory = Path(tmp)
        (directory / "roost.yaml").write_text(
            textwrap.dedent(
                f"""\
                home: {directory / "home"}
                providers:
                  claude: {{type: anthropic, base_url: "{url}", api_key: bench}}
                  gpt: {{type: openai, base_url: "{url}/v1", api_key: bench}}
                agents:
                  assistant: {{model: claude/claude-haiku-4-5}}
                  coder: {{model: gpt/gpt-5-mini}}
                """
            ),
            encoding="utf-8",
        )
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("ROOST_", "ANTHROPIC_", "OPENAI_"))
            and key != "PYTHONDONTWRITEBYTECODE"
        }
        _compile_sources(env)
        yield directory, env


def _compile_sources(env: dict[str, str]) -> None:
    """Compile Roost's sources ahead (into the usual ``__pycache__``, git-ignored).

    A pip install compiles every module; a work tree run with PYTHONDONTWRITEBYTECODE
    (as some shells and CI set) would instead recompile Roost at every process start,
    which is not what a user's `roost run` pays.
    """
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO / "src")],
        env=env,
        check=True,
        capture_output=True,
    )


def timed_run(command: Sequence[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall time of one process, start to exit; fails loudly if the command fails."""
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")
    return elapsed


def summary(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "min": round(ordered[0], 4),
        "median": round(statistics.median(ordered), 4),
        "p95": round(p95, 4),
        "max": round(ordered[-1], 4),
    }


def emit(figures: dict[str, object], human: str) -> None:
    print(json.dumps(figures, indent=2))
    print(human, file=sys.stderr)

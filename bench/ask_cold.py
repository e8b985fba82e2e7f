"""Cold wall time of `roost ask` (a fresh process, one in-process turn) against the fake LLM.

Target (issue #2): <= 1.6 s on the Anthropic path. `import anthropic` alone is measured
beside it, because it dominates. Roost's own share is measured against the SDK import
as it costs inside `roost` (cyclic GC off, no interpreter teardown; see cli/main.py).

    python bench/ask_cold.py [--runs 10]
"""

from __future__ import annotations

import argparse
import sys

from bench.common import emit, fake_llm_process, roost_home, summary, timed_run

ROOST = [sys.executable, "-m", "roost"]
SDK_AS_IN_ROOST = "import gc, os; gc.disable(); import {0}; os._exit(0)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    with fake_llm_process() as url, roost_home(url) as (directory, env):
        first = timed_run([*ROOST, "ask", "assistant", "hello"], directory, env)
        figures: dict[str, object] = {"first_run_with_schema_creation_s": round(first, 4)}
        for label, command in (
            ("python_startup_s", [sys.executable, "-c", "pass"]),
            # `python -c "import anthropic"`, as the issue measured it (teardown included).
            ("import_anthropic_s", [sys.executable, "-c", "import anthropic"]),
            ("import_openai_s", [sys.executable, "-c", "import openai"]),
            # The SDKs as they cost inside `roost ask` (no cyclic GC, no teardown): the
            # baseline for Roost's own share.
            (
                "sdk_anthropic_in_roost_s",
                [sys.executable, "-c", SDK_AS_IN_ROOST.format("anthropic")],
            ),
            ("sdk_openai_in_roost_s", [sys.executable, "-c", SDK_AS_IN_ROOST.format("openai")]),
            ("ask_anthropic_s", [*ROOST, "ask", "assistant", "hello"]),
            ("ask_openai_s", [*ROOST, "ask", "coder", "hello"]),
        ):
            figures[label] = summary([timed_run(command, directory, env) for _ in range(runs)])
    medians = {k: v["median"] for k, v in figures.items() if isinstance(v, dict)}
    own_anthropic = medians["ask_anthropic_s"] - medians["sdk_anthropic_in_roost_s"]
    own_openai = medians["ask_openai_s"] - medians["sdk_openai_in_roost_s"]
    figures["roost_own_share_anthropic_s"] = round(own_anthropic, 4)
    figures["roost_own_share_openai_s"] = round(own_openai, 4)
    emit(
        figures,
        f"roost ask, cold, median of {runs}: anthropic {medians['ask_anthropic_s']:.2f} s "
        f"(python -c 'import anthropic' {medians['import_anthropic_s']:.2f} s; Roost's own "
        f"share {own_anthropic:.2f} s; target <= 1.6 s), openai {medians['ask_openai_s']:.2f} s "
        f"('import openai' {medians['import_openai_s']:.2f} s, own {own_openai:.2f} s); "
        f"first run with schema creation {first:.2f} s",
    )


if __name__ == "__main__":
    main()

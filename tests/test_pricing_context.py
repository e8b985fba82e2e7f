"""Prices for known and unknown models, and context assembly within a token budget."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from roost.agents.context import fit_history, repair_tool_pairs
from roost.ledger.pricing import Price, PriceTable, ProviderRef
from roost.providers.base import Message, ToolCall, Usage

TABLE = PriceTable(
    providers={
        "claude": ProviderRef("anthropic", "http://127.0.0.1:9"),
        "gpt": ProviderRef("openai"),
        "local": ProviderRef("openai", "http://localhost:11434/v1"),
    }
)


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        ("claude", "claude-haiku-4-5", 1.0),
        ("claude", "claude-haiku-4-5-20251001", 1.0),
        ("claude", "claude-sonnet-4-5", 3.0),
        ("router", "anthropic/claude-sonnet-4-5", 3.0),
        ("openai", "gpt-4o-mini-2024-07-18", 0.15),
        ("openai", "gpt-5-mini", 0.25),
        ("gpt", "gpt-5-mini", 0.25),
    ],
)
def test_default_prices(provider: str, model: str, expected: float) -> None:
    price = TABLE.lookup(provider, model)
    assert price is not None and price.input == expected


def test_cost_uses_every_token_kind() -> None:
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=100_000,
        cache_read_tokens=200_000,
        cache_write_tokens=400_000,
    )
    cost, priced = TABLE.cost("claude", "claude-haiku-4-5", usage)
    # 1.0 + 0.5 (output at $5) + 0.02 (reads at $0.10) + 0.5 (writes at $1.25)
    assert priced and cost == pytest.approx(2.02)


def test_openai_cached_input_has_its_rate_and_writes_cost_input() -> None:
    usage = Usage(input_tokens=1_000_000, cache_read_tokens=1_000_000, cache_write_tokens=1_000_000)
    # gpt-4o: $2.50 input, $1.25 cached input, no separate write rate
    assert TABLE.cost("gpt", "gpt-4o", usage) == (pytest.approx(2.5 + 1.25 + 2.5), True)


def test_long_context_calls_pay_the_long_context_rate() -> None:
    # Sonnet 4.5 charges $6 (not $3) for every input token of a call over 200k.
    cost, priced = TABLE.cost("claude", "claude-sonnet-4-5", Usage(input_tokens=300_000))
    assert priced and cost == pytest.approx(1.8)


def test_unknown_models_cost_nothing_and_say_so() -> None:
    assert TABLE.cost("local", "llama3.2", Usage(100, 100)) == (0.0, False)
    assert TABLE.cost("nameless", "llama3.2", Usage(100, 100)) == (0.0, False)
    assert TABLE.source("local", "llama3.2") == "none"
    # A model run locally is not billed at the rates of an API that sells it.
    assert TABLE.cost("local", "deepseek-r1:14b", Usage(100, 100)) == (0.0, False)
    # No prefix guessing: gpt-5-pro has a price of its own, twelve times gpt-5's.
    pro = TABLE.lookup("gpt", "gpt-5-pro")
    assert pro is not None and pro.input == 15.0


def test_a_provider_is_looked_up_by_its_api_address() -> None:
    table = PriceTable(providers={"fast": ProviderRef("openai", "https://api.groq.com/openai/v1")})
    groq = table.lookup("fast", "llama-3.3-70b-versatile")
    assert groq is not None and groq.input > 0
    assert table.source("fast", "llama-3.3-70b-versatile").startswith("genai-prices ")
    router = PriceTable(providers={"or": ProviderRef("openai", "https://openrouter.ai/api/v1")})
    sonnet = router.lookup("or", "anthropic/claude-sonnet-4-5")
    assert sonnet is not None and sonnet.input == 3.0


def test_overrides_win_by_provider_model_then_model() -> None:
    table = PriceTable({"local/llama3.2": Price(1, 2, 0, 0), "claude-haiku-4-5": Price(9, 9, 9, 9)})
    assert table.cost("local", "llama3.2", Usage(1_000_000, 0)) == (1.0, True)
    assert table.lookup("claude", "claude-haiku-4-5") == Price(9, 9, 9, 9)
    assert table.source("claude", "claude-haiku-4-5") == "config"
    assert table.source("claude", "claude-sonnet-4-5") == f"genai-prices {version('genai-prices')}"


NO_NETWORK = """
import sys, threading

def refuse(event, args):
    if event.startswith("socket.") or event == "urllib.Request":
        raise RuntimeError(f"network used: {event}")

sys.addaudithook(refuse)
from roost.ledger.pricing import PriceTable
from roost.providers.base import Usage

table = PriceTable()
loaded_before = "genai_prices" in sys.modules
cost, priced = table.cost("claude", "claude-haiku-4-5", Usage(1_000_000, 0))
print(loaded_before, "genai_prices" in sys.modules, priced, cost, threading.active_count())
"""


def test_prices_load_lazily_and_never_touch_the_network() -> None:
    result = subprocess.run(
        [sys.executable, "-c", NO_NETWORK], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # Not loaded until a price was needed; priced with no socket opened and no updater thread.
    assert result.stdout.split() == ["False", "True", "True", "1.0", "1"]


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("anthropic", "claude-haiku-4-5"),
        ("anthropic", "claude-sonnet-4-5"),
        ("anthropic", "claude-opus-4-1"),
        ("openai", "gpt-4o"),
        ("openai", "gpt-5-mini"),
        ("google", "gemini-2.5-pro"),
    ],
)
@pytest.mark.parametrize("uncached", [1_000, 150_000, 250_000])
def test_costs_agree_with_genai_prices_own_calculation(
    provider: str, model: str, uncached: int
) -> None:
    import genai_prices

    usage = Usage(uncached, 2_000, cache_read_tokens=30_000, cache_write_tokens=25_000)
    reference = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=uncached + 55_000,
            output_tokens=2_000,
            cache_read_tokens=30_000,
            cache_write_tokens=25_000,
        ),
        model,
        provider_id=provider,
    )
    table = PriceTable(providers={"p": ProviderRef(provider)})
    assert table.cost("p", model, usage) == (pytest.approx(float(reference.total_price)), True)


RATES_FILE_RUN = """
import sys
from pathlib import Path
from roost.ledger.catalog import Catalog
from roost.ledger.pricing import PriceTable, ProviderRef
from roost.providers.base import Usage

table = PriceTable(
    providers={"claude": ProviderRef("anthropic")}, catalog=Catalog(Path(sys.argv[1]))
)
cost, priced = table.cost("claude", "claude-sonnet-4-5", Usage(300_000, 1_000))
print(cost, priced, table.source("claude", "claude-sonnet-4-5") != "none",
      table.cost("claude", "my-own-model", Usage(1, 1))[1], "genai_prices" in sys.modules)
"""


def test_a_cold_process_prices_from_the_home_rates_file(tmp_path: Path) -> None:
    path = tmp_path / "prices-today.json"

    def run() -> list[str]:
        command = [sys.executable, "-c", RATES_FILE_RUN, str(path)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    # 300k input tokens of Sonnet 4.5 at the long-context $6, 1k output at $22.50
    priced = ["1.8225", "True", "True", "False"]
    assert run() == [*priced, "True"]  # looked up in genai-prices, written down
    assert run() == [*priced, "False"]  # read back: the package is never imported
    path.write_text("{not json", encoding="utf-8")
    assert run() == [*priced, "True"]  # a damaged file is ignored and rewritten
    assert run() == [*priced, "False"]


def _turn(i: int, size: int = 400) -> list[Message]:
    call = ToolCall(f"c{i}", "read_file", '{"path": "a"}')
    return [
        Message("user", f"question {i} " + "x" * size),
        Message("assistant", "", (call,)),
        Message("tool", "y" * size, tool_call_id=f"c{i}", tool_name="read_file"),
        Message("assistant", f"answer {i}"),
    ]


def test_history_is_cut_at_a_user_message_within_budget() -> None:
    history = [m for i in range(20) for m in _turn(i)]
    fitted = fit_history(history, "system", (), max_tokens=1_000)
    assert fitted[0].role == "user"
    assert fitted[-1].text == "answer 19"
    assert 4 <= len(fitted) < len(history)
    assert sum(len(m.text) for m in fitted) <= 4_000


def test_current_turn_is_kept_even_over_budget() -> None:
    history = [*_turn(0), Message("user", "z" * 40_000)]
    fitted = fit_history(history, "system", (), max_tokens=1_000)
    assert fitted == [history[-1]]


def test_interrupted_tool_calls_get_an_error_result_and_orphans_are_dropped() -> None:
    call = ToolCall("c1", "write_file", "{}")
    history = [
        Message("user", "go"),
        Message("assistant", "", (call,)),
        Message("user", "are you there?"),
        Message("tool", "stray", tool_call_id="nobody"),
    ]
    repaired = repair_tool_pairs(history)
    assert [m.role for m in repaired] == ["user", "assistant", "tool", "user"]
    assert repaired[2].tool_call_id == "c1" and repaired[2].is_error


def _reference_fit(history: list[Message], budget: int) -> list[Message]:
    """fit_history as first written (simple and slow), to check the fast one against."""
    last_user = max((i for i, m in enumerate(history) if m.role == "user"), default=0)
    start, used = len(history), 0
    while start > 0:
        size = len(history[start - 1].text) + sum(
            len(c.name) + len(c.arguments_json) for c in history[start - 1].tool_calls
        )
        cost = (size + 3) // 4 + 4
        if used + cost > budget:
            break
        used += cost
        start -= 1
    while start < last_user and history[start].role != "user":
        start += 1
    repaired: list[Message] = []
    pending: dict[str, str] = {}
    for message in history[min(start, last_user) :]:
        if message.role == "tool":
            if pending.pop(message.tool_call_id or "", None) is not None:
                repaired.append(message)
            continue
        repaired.extend(
            Message(
                "tool",
                "interrupted: this tool call did not finish",
                tool_call_id=call_id,
                tool_name=name,
                is_error=True,
            )
            for call_id, name in pending.items()
        )
        pending = {call.id: call.name for call in message.tool_calls}
        repaired.append(message)
    repaired.extend(
        Message(
            "tool",
            "interrupted: this tool call did not finish",
            tool_call_id=call_id,
            tool_name=name,
            is_error=True,
        )
        for call_id, name in pending.items()
    )
    return repaired


def test_fitting_matches_the_reference_on_random_histories() -> None:
    import random

    rng = random.Random(7)
    for _ in range(300):
        history: list[Message] = []
        for index in range(rng.randrange(0, 30)):
            kind = rng.choice(["user", "assistant", "calls", "tool", "tool"])
            text = "x" * rng.randrange(0, 400)
            if kind == "calls":
                calls = tuple(
                    ToolCall(f"c{index}-{n}", "read_file", "{}") for n in range(rng.randrange(3))
                )
                history.append(Message("assistant", text, calls))
            elif kind == "tool":
                target = f"c{rng.randrange(index + 1)}-{rng.randrange(2)}"
                history.append(Message("tool", text, tool_call_id=target, tool_name="read_file"))
            else:
                history.append(Message(kind, text))  # type: ignore[arg-type]
        budget = rng.randrange(0, 3000)
        assert fit_history(history, "", (), budget) == _reference_fit(history, budget)

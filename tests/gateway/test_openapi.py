"""/openapi.json against the running server: schemathesis generates requests from the
document (valid ones and invalid ones, and sequences along its links, e.g. a message,
then the session's reset, then its history) and checks every answer against it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.fakes.llm_server import FakeLLM
from tests.gateway.conftest import TOKEN, Gateway

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "unsupported_method",
        "allow_header_conformance",
        "use_after_free",
    )
)
RUN_TIMEOUT_S = 120.0
CONFIG = """
[[operations]]
include-path = "/api/agents/{name}/messages"
include-method = "POST"
# 503 (stopping) and 504 (no answer within timeout_s) are answers, documented; an
# undocumented 5xx still fails status_code_conformance.
checks.not_a_server_error.expected-statuses = ["2XX", "3XX", "4XX", 503, 504]
"""


@pytest.mark.skipif(not SCHEMATHESIS.exists(), reason="schemathesis (the test extra) missing")
async def test_schemathesis_finds_no_difference_between_the_document_and_the_server(
    gateway: Gateway, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        f"--config-file={config}",
        "run",
        f"{gateway.http_url}/openapi.json",
        f"--header=Authorization: Bearer {TOKEN}",
        f"--checks={CHECKS}",
        "--phases=examples,coverage,fuzzing,stateful",
        "--max-examples=25",
        "--seed=1",
        "--workers=1",
        "--request-timeout=20",
        "--no-color",
        cwd=tmp_path,  # hypothesis keeps its example database there
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    report = output.decode(errors="replace")
    assert process.returncode == 0, report
    assert "No issues found" in report, report

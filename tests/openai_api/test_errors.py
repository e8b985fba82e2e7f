"""Every refusal in OpenAI's error shape, as the SDK understands it; the gateway's limits hold."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.fakes.llm_server import FakeLLM
from tests.openai_api.conftest import Roost, RoostFactory

OPENAI_ERROR_KEYS = {"message", "type", "param", "code"}


def _error(body: Any) -> dict[str, Any]:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) >= OPENAI_ERROR_KEYS, error
    return error


async def test_an_unknown_agent_is_model_not_found(roost: Roost, fake_llm: FakeLLM) -> None:
    async with roost.openai() as client:
        with pytest.raises(openai.NotFoundError) as completion:
            await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
        with pytest.raises(openai.NotFoundError) as retrieved:
            await client.models.retrieve("gpt-4o")
    for raised in (completion.value, retrieved.value):
        assert raised.code == "model_not_found" and raised.param == "model"
        assert "GET /v1/models" in _error(raised.response.json())["message"]
    assert fake_llm.requests == []


BAD_BODIES: list[tuple[str, bytes | str, str]] = [
    ("not json", b"{model: assistant", "invalid_json"),
    ("not an object", b"[1, 2]", "invalid_json"),
    ("NaN", b'{"model": "assistant", "messages": NaN}', "invalid_json"),
    ("nested deeply", b"[" * 100_000 + b"]" * 100_000, "invalid_json"),
    ("no messages", b'{"model": "assistant", "messages": []}', "invalid_request"),
    ("no model", b'{"messages": [{"role": "user", "content": "x"}]}', "invalid_request"),
    ("a bad role", b'{"model": "assistant", "messages": [{"role": "boss"}]}', "invalid_request"),
    (
        "no user text",
        b'{"model": "assistant", "messages": [{"role": "system", "content": "x"}]}',
        "invalid_messages",
    ),
    (
        "an image alone",
        b'{"model": "assistant", "messages": [{"role": "user", "content": "old question"},'
        b' {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}',
        "invalid_messages",
    ),
    (
        "two answers",
        b'{"model": "assistant", "n": 2, "messages": [{"role": "user", "content": "x"}]}',
        "invalid_request",
    ),
    (
        "too many messages",
        '{"model": "assistant", "messages": ['
        + ",".join(['{"role": "user", "content": "x"}'] * 2001)
        + "]}",
        "invalid_request",
    ),
]


@pytest.mark.parametrize(("_name", "body", "code"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
async def test_a_bad_body_is_a_400_in_openais_shape(
    roost: Roost, fake_llm: FakeLLM, _name: str, body: bytes | str, code: str
) -> None:
    async with roost.http() as http:
        response = await http.post(
            "/v1/chat/completions", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400, response.text
    error = _error(response.json())
    assert error["code"] == code and error["type"] == "invalid_request_error"
    assert "Traceback" not in response.text
    assert fake_llm.requests == []


async def test_a_huge_body_is_refused_before_it_is_read_whole(
    roost: Roost, fake_llm: FakeLLM
) -> None:
    huge = (
        b'{"model": "assistant", "messages": [{"role": "user", "content": "'
        + b"x" * (9 * 1024 * 1024)
        + b'"}]}'
    )

    async def chunks() -> Any:
        for start in range(0, len(huge), 1 << 20):
            yield huge[start : start + (1 << 20)]

    async with roost.http() as http:
        declared = await http.post("/v1/chat/completions", content=huge)
        streamed = await http.post("/v1/chat/completions", content=chunks())
    for response in (declared, streamed):
        assert response.status_code == 413
        assert _error(response.json())["code"] == "request_too_large"
    assert fake_llm.requests == []


async def test_the_sdk_raises_its_own_error_for_a_bad_body(roost: Roost) -> None:
    async with roost.openai() as client:
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(model="assistant", messages=[])
    assert raised.value.param == "messages"


async def test_a_wrong_token_is_401_in_openais_shape(roost: Roost, fake_llm: FakeLLM) -> None:
    async with roost.openai(token="not-the-token-s3cr3t") as client:
        with pytest.raises(openai.AuthenticationError) as raised:
            await client.chat.completions.create(
                model="assistant", messages=[{"role": "user", "content": "hi"}]
            )
        with pytest.raises(openai.AuthenticationError):
            await client.models.list()
    error = _error(raised.value.response.json())
    assert error["code"] == "unauthorized" and "s3cr3t" not in error["message"]
    assert fake_llm.requests == []


async def test_repeated_wrong_tokens_are_limited_and_the_right_one_still_works(
    start_roost: RoostFactory,
) -> None:
    roost = await start_roost(auth_failures_per_minute=3)
    async with roost.openai(token="guess") as guesser:
        for _ in range(3):
            with pytest.raises(openai.AuthenticationError):
                await guesser.models.list()
        with pytest.raises(openai.RateLimitError) as limited:
            await guesser.models.list()
    assert _error(limited.value.response.json())["code"] == "rate_limited"
    assert limited.value.response.headers["retry-after"] == "60"
    async with roost.openai() as owner:
        assert [m.id for m in (await owner.models.list()).data] == ["assistant", "coder"]


async def test_a_foreign_web_page_is_refused(roost: Roost) -> None:
    async with roost.openai(Origin="https://evil.example") as client:
        with pytest.raises(openai.PermissionDeniedError) as raised:
            await client.models.list()
    assert _error(raised.value.response.json())["code"] == "forbidden"

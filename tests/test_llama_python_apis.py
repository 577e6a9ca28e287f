"""/v1/responses and /v1/messages translated to chat completions for a real llama-cpp-python
server (SmolLM2-135M, launched and supervised by the router), the demo fleet's default backend,
driven with the openai and anthropic SDKs. It found that this server refuses an assistant turn
whose ``content`` is null (it answers 500), which the translation now never sends.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from zeta_router.localfleet import LocalModelError, find_smollm2, free_ports, llama_command
from zeta_router.testing import Harness

from .agent_clients import wait_managed

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None,
        reason="llama-cpp-python is not installed: pip install -e '.[local]'",
    ),
]


@pytest.fixture(scope="module")
def gw() -> Iterator[Harness]:
    try:
        model = find_smollm2()
    except LocalModelError as exc:
        pytest.skip(f"packaged model missing: {exc}")
    port = free_ports(1)[0]
    template = {
        "health": {"enabled": False},
        "timeouts": {"connect_s": 1.0, "first_byte_s": 30.0, "idle_s": 30.0, "total_s": 60.0},
        "analysis": {"analyzer": "heuristic"},
        "models": {
            "small": {
                # No /health: probes off; "none" also means translated for both APIs.
                "health": "none",
                "context_window": 2048,
                "replicas": [
                    {
                        "url": f"http://127.0.0.1:{port}/v1",
                        "upstream_model": "small",
                        "launch": {
                            "command": list(llama_command(model, "small")),
                            "port": port,
                            "ready_path": "/v1/models",
                            "start_timeout_s": 120,
                        },
                    }
                ],
            }
        },
    }
    h = Harness([], template)
    try:
        wait_managed(h)
        yield h
    finally:
        h.close()


@pytest.fixture()
def clients(gw: Harness) -> Iterator[tuple[openai.OpenAI, anthropic.Anthropic]]:
    oai = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0, timeout=60)
    ant = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0, timeout=60)
    with oai, ant:
        yield oai, ant


def test_responses_translated_for_llama_cpp_python(
    clients: tuple[openai.OpenAI, anthropic.Anthropic],
) -> None:
    oai, _ = clients
    resp = oai.responses.create(model="auto", input="Say hello.", max_output_tokens=10)
    assert resp.model == "small" and resp.output_text
    events = list(
        oai.responses.create(model="auto", input="Say hello.", max_output_tokens=10, stream=True)
    )
    assert events[0].type == "response.created"
    assert events[-1].type in ("response.completed", "response.incomplete")
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text and text == events[-1].response.output_text  # type: ignore[union-attr]
    tools: list[Any] = [{"type": "function", "name": "weather", "parameters": {"type": "object"}}]
    turn = oai.responses.create(
        model="auto",
        tools=tools,
        max_output_tokens=10,
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "Sunny"},
        ],
    )
    assert turn.output_text


def test_messages_translated_for_llama_cpp_python(
    clients: tuple[openai.OpenAI, anthropic.Anthropic],
) -> None:
    _, ant = clients
    msg = ant.messages.create(
        model="auto", max_tokens=10, messages=[{"role": "user", "content": "Say hello."}]
    )
    assert msg.model == "small" and msg.content[0].type == "text"
    with ant.messages.stream(
        model="auto", max_tokens=10, messages=[{"role": "user", "content": "Say hello."}]
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text and final.stop_reason in ("end_turn", "max_tokens")
    turn = ant.messages.create(
        model="auto",
        max_tokens=10,
        tools=[{"name": "weather", "input_schema": {"type": "object"}}],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "weather", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "Sunny"}],
            },
        ],
    )
    assert turn.content

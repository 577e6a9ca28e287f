"""/v1/responses and /v1/messages relayed natively to a real llama.cpp ``llama-server``
(SmolLM2-135M, launched and supervised by the router), with a fake chat-only backend as the
translated model, and fallback between the two; driven with the openai and anthropic SDKs.

Skipped, saying why, where the llama-server binary has not been built
(``zeta-router fleet build``, or ``$ZETA_LLAMA_SERVER``) or the packaged model is missing.

SmolLM2-135M does not emit tool calls, so the tool round trips here send the call in the
history (as an agent does on its second turn) and check that llama-server accepts what the
router relays and answers it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from zeta_router.localfleet import LocalModelError, find_smollm2, free_ports, llama_server_command
from zeta_router.managed import llamabuild
from zeta_router.testing import Harness

from . import agent_clients
from .agent_clients import close_all, wait_managed

pytestmark = pytest.mark.slow

TOOLS: list[Any] = [
    {
        "type": "function",
        "name": "weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


@pytest.fixture(scope="module")
def gw() -> Iterator[Harness]:
    binary = llamabuild.find_llama_server()
    if binary is None:
        pytest.skip(
            "no llama-server binary: build it with `zeta-router fleet build` "
            f"or point ${llamabuild.ENV_BINARY} at one"
        )
    try:
        model = find_smollm2()
    except LocalModelError as exc:
        pytest.skip(f"packaged model missing: {exc}")
    port = free_ports(1)[0]
    template = {
        "health": {"enabled": False},
        "timeouts": {"connect_s": 1.0, "first_byte_s": 3.0, "idle_s": 10.0, "total_s": 60.0},
        "retry": {"backoff_base_s": 0.01, "backoff_max_s": 0.05},
        "analysis": {"analyzer": "heuristic"},
        "models": {
            "native": {
                "health": "llamacpp",
                "context_window": 2048,
                "replicas": [
                    {
                        "url": f"http://127.0.0.1:{port}/v1",
                        "id": "native-0",
                        "upstream_model": "small",
                        "launch": {
                            "command": list(
                                llama_server_command(binary, model, "small", parallel=2)
                            ),
                            "port": port,
                            "ready_path": "/health",
                            "start_timeout_s": 120,
                        },
                    }
                ],
            },
            "trans": {"health": "openai", "replicas": [{"url": "fake:t1"}]},
        },
        "fallbacks": {"native": ["trans"], "trans": ["native"]},
    }
    h = Harness({"t1": "openai"}, template)
    try:
        wait_managed(h)
        yield h
    finally:
        h.close()


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    close_all()


def oai(h: Harness) -> openai.OpenAI:
    return agent_clients.oai(h, 60)


def ant(h: Harness) -> anthropic.Anthropic:
    return agent_clients.ant(h, 60)


def test_responses_native_create_and_stream(gw: Harness) -> None:
    raw = oai(gw).responses.with_raw_response.create(
        model="native", instructions="Answer briefly.", input="Say hello.", max_output_tokens=12
    )
    resp = raw.parse()
    assert raw.headers["x-zeta-model"] == "native"
    assert resp.model == "native" and resp.status in ("completed", "incomplete")
    assert resp.output_text
    assert resp.usage is not None and resp.usage.output_tokens > 0

    events = list(
        oai(gw).responses.create(
            model="native", input="Count to three.", max_output_tokens=12, stream=True
        )
    )
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    final = events[-1].response  # type: ignore[union-attr]
    assert text and text == final.output_text
    assert final.model == "native"


def test_responses_native_function_tool_round_trip(gw: Harness) -> None:
    client = oai(gw)
    first = client.responses.create(
        model="native", input="What is the weather in Paris?", tools=TOOLS, max_output_tokens=24
    )
    assert first.status in ("completed", "incomplete")
    history: list[Any] = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "weather",
            "arguments": '{"city":"Paris"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "Sunny, 21 C"},
    ]
    for stream in (False, True):
        if stream:
            events = list(
                client.responses.create(
                    model="native", input=history, tools=TOOLS, max_output_tokens=24, stream=True
                )
            )
            second = events[-1].response  # type: ignore[union-attr]
        else:
            second = client.responses.create(
                model="native", input=history, tools=TOOLS, max_output_tokens=24
            )
        assert second.output, "llama-server answered the tool output"
    # Chained by id: llama-server itself refuses previous_response_id, so the router must send
    # the stored conversation spelled out.
    chained = client.responses.create(
        model="native", previous_response_id=second.id, input="Thanks!", max_output_tokens=12
    )
    assert chained.previous_response_id == second.id
    assert chained.output


def test_messages_native_create_stream_and_tool_round_trip(gw: Harness) -> None:
    client = ant(gw)
    msg = client.messages.create(
        model="native",
        max_tokens=12,
        system="Answer briefly.",
        messages=[{"role": "user", "content": "Say hello."}],
    )
    assert msg.model == "native" and msg.content and msg.content[0].type == "text"
    with client.messages.stream(
        model="native", max_tokens=12, messages=[{"role": "user", "content": "Count to three."}]
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text and final.content[0].text == text  # type: ignore[union-attr]
    tools: list[Any] = [
        {
            "name": "weather",
            "description": "The weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    answer = client.messages.create(
        model="native",
        max_tokens=24,
        tools=tools,
        messages=[
            {"role": "user", "content": "What is the weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "weather",
                        "input": {"city": "Paris"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny"}],
            },
        ],
    )
    assert answer.content and answer.stop_reason in ("end_turn", "max_tokens", "tool_use")


def test_fallback_between_llama_server_and_a_translated_model(gw: Harness) -> None:
    # Translated model down: the native llama-server serves.
    gw.set("t1", mode="503")
    try:
        raw = oai(gw).responses.with_raw_response.create(
            model="trans", input="Say hello.", max_output_tokens=8
        )
        assert raw.headers["x-zeta-model"] == "native"
        assert raw.headers["x-zeta-fallback"] == "trans->native (trans: 503 unavailable)"
        assert raw.parse().output_text
    finally:
        gw.heal("t1")
    # llama-server frozen (SIGSTOP): its first byte never comes, the translated model serves.
    supervisor = gw.router.supervisor
    assert supervisor is not None
    pid = next(s.pid for s in supervisor.status() if s.pid is not None)
    os.kill(pid, signal.SIGSTOP)
    try:
        with ant(gw).messages.stream(
            model="native", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        ) as s:
            text = "".join(s.text_stream)
            assert s.response.headers["x-zeta-model"] == "trans"
            assert s.response.headers["x-zeta-fallback"].startswith(
                "native->trans (native: first byte timeout"
            )
        assert text.startswith("[t1]")
    finally:
        os.kill(pid, signal.SIGCONT)

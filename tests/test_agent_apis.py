"""/v1/responses and /v1/messages end to end: the official openai and anthropic SDKs against a
real gateway, over real sockets, in front of fake backends that either serve those APIs
natively (``llamacpp`` flavor, as llama-server does) or only chat completions (translated).

Each test names the model it pins, so which path an answer took is known and checked against
the path the backend saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from zeta_router.testing import Harness

from .agent_clients import ant, close_all, oai
from .conftest import reset_harness

TOOLS_OAI: list[Any] = [
    {
        "type": "function",
        "name": "lookup",
        "description": "Look something up",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
    }
]
TOOLS_ANT: list[Any] = [
    {
        "name": "lookup",
        "description": "Look something up",
        "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
    }
]
CODE_PROMPT = "Fix this bug:\n```python\ndef add(a, b):\n    return a - b\n```"
#: Which fake backend serves each model, and the path a request takes there.
BACKEND = {"nat": "n1", "chat": "c1", "vl": "v1", "over": "o1"}
PATHS = {"responses": "/v1/responses", "messages": "/v1/messages"}
CHAT_PATH = "/v1/chat/completions"


def template() -> dict[str, Any]:
    return {
        "health": {"enabled": False},
        "timeouts": {"connect_s": 1.0, "first_byte_s": 2.0, "idle_s": 1.0, "total_s": 10.0},
        "retry": {"backoff_base_s": 0.01, "backoff_max_s": 0.05},
        "analysis": {"analyzer": "heuristic"},
        "models": {
            # llama-server: both APIs native.
            "nat": {
                "health": "llamacpp",
                "replicas": [{"url": "fake:n1", "upstream_model": "llama-up"}],
            },
            # A plain OpenAI-compatible server: both translated.
            "chat": {
                "health": "openai",
                "replicas": [{"url": "fake:c1", "upstream_model": "chat-up"}],
            },
            # vLLM: /v1/responses native, /v1/messages translated.
            "vl": {"health": "vllm", "replicas": [{"url": "fake:v1"}]},
            # llama-server told to translate messages.
            "over": {
                "health": "llamacpp",
                "apis": {"messages": "translate"},
                "replicas": [{"url": "fake:o1"}],
            },
            "ranker": {"endpoints": ["rerank"], "replicas": [{"url": "fake:r1"}]},
        },
        "routes": {
            "code": ["chat", "nat"],
            "reasoning": ["nat", "chat"],
            "simple": ["nat", "chat"],
            "retrieval": ["nat", "chat"],
        },
        "fallbacks": {"nat": ["chat"], "chat": ["nat"], "vl": ["chat"], "over": ["chat"]},
    }


NAMES = {"n1": "llamacpp", "c1": "openai", "v1": "vllm", "o1": "llamacpp", "r1": "llamacpp"}


@pytest.fixture(scope="module")
def gw_module() -> Iterator[Harness]:
    h = Harness(NAMES, template())  # type: ignore[arg-type]
    yield h
    h.close()


@pytest.fixture()
def gw(gw_module: Harness) -> Iterator[Harness]:
    yield gw_module
    reset_harness(gw_module, NAMES)


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    close_all()


def expect_path(h: Harness, model: str, api: str) -> None:
    native = {("nat", "responses"), ("nat", "messages"), ("vl", "responses"), ("over", "responses")}
    want = PATHS[api] if (model, api) in native else CHAT_PATH
    assert h.backend(BACKEND[model]).last_path == want


# -- Responses ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["nat", "chat"])
def test_responses_create(gw: Harness, model: str) -> None:
    raw = oai(gw).responses.with_raw_response.create(
        model=model, instructions="Be brief.", input="Say hello"
    )
    resp = raw.parse()
    expect_path(gw, model, "responses")
    assert raw.headers["x-zeta-model"] == model
    assert raw.headers["x-zeta-route"] == "pinned by request"
    assert raw.headers["x-zeta-request-id"].startswith("zr-")
    assert int(raw.headers["content-length"]) == len(raw.content)
    assert resp.object == "response" and resp.status == "completed"
    assert resp.model == model
    assert resp.output_text.startswith(f"[{BACKEND[model]}] alpha")
    assert resp.usage is not None and resp.usage.total_tokens > 0
    if model == "chat":
        sent = gw.backend("c1").last_body
        assert sent is not None
        assert sent["model"] == "chat-up"
        assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    else:
        sent = gw.backend("n1").last_body
        assert sent is not None
        assert sent["model"] == "llama-up" and sent["instructions"] == "Be brief."


@pytest.mark.parametrize("model", ["nat", "chat"])
def test_responses_stream(gw: Harness, model: str) -> None:
    with oai(gw).responses.with_streaming_response.create(
        model=model, input=[{"role": "user", "content": "Say hello"}], stream=True
    ) as raw:
        assert raw.headers["x-zeta-model"] == model
        assert raw.headers["content-type"].startswith("text/event-stream")
        events = list(raw.parse())
    expect_path(gw, model, "responses")
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.output_item.added" in kinds and "response.output_item.done" in kinds
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    final = events[-1].response  # type: ignore[union-attr]
    assert text == final.output_text and text.startswith(f"[{BACKEND[model]}]")
    assert final.model == model
    seqs = [e.sequence_number for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", ["nat", "chat"])
def test_responses_function_tool_round_trip(gw: Harness, model: str, stream: bool) -> None:
    client = oai(gw)
    ask = [{"role": "user", "content": "What is the answer?"}]
    if stream:
        events = list(client.responses.create(model=model, input=ask, tools=TOOLS_OAI, stream=True))
        assert any(e.type == "response.function_call_arguments.delta" for e in events)
        first = events[-1].response  # type: ignore[union-attr]
    else:
        first = client.responses.create(model=model, input=ask, tools=TOOLS_OAI)
    expect_path(gw, model, "responses")
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "lookup"
    assert call.arguments == '{"query":"What is the answer?"}'
    follow_up: list[Any] = [
        *ask,
        {
            "type": "function_call",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": call.arguments,
        },
        {"type": "function_call_output", "call_id": call.call_id, "output": "42"},
    ]
    second = client.responses.create(model=model, input=follow_up, tools=TOOLS_OAI)
    assert second.output_text == f"[{BACKEND[model]}] tool said: 42"
    if model == "chat":
        sent = gw.backend("c1").last_body
        assert sent is not None
        assert sent["messages"][1]["tool_calls"][0]["id"] == call.call_id
        assert sent["messages"][2] == {
            "role": "tool",
            "tool_call_id": call.call_id,
            "content": "42",
        }


def test_responses_code_prompt_is_classified_like_chat(gw: Harness) -> None:
    raw = oai(gw).responses.with_raw_response.create(model="auto", input=CODE_PROMPT)
    assert raw.headers["x-zeta-task"] == "code"
    assert raw.headers["x-zeta-model"] == "chat"
    assert raw.headers["x-zeta-route"].startswith("route code, 1st choice")


def test_per_backend_kind_paths_and_the_config_override(gw: Harness) -> None:
    oai(gw).responses.create(model="vl", input="hi")
    expect_path(gw, "vl", "responses")
    ant(gw).messages.create(model="vl", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    expect_path(gw, "vl", "messages")
    ant(gw).messages.create(
        model="over", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    expect_path(gw, "over", "messages")
    oai(gw).responses.create(model="over", input="hi")
    expect_path(gw, "over", "responses")


# -- Messages -----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["nat", "chat"])
def test_messages_create(gw: Harness, model: str) -> None:
    raw = ant(gw).messages.with_raw_response.create(
        model=model,
        max_tokens=64,
        system="Be brief.",
        messages=[{"role": "user", "content": "Say hello"}],
    )
    msg = raw.parse()
    expect_path(gw, model, "messages")
    assert raw.headers["x-zeta-model"] == model
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.model == model
    assert msg.stop_reason == "end_turn"
    assert msg.content[0].type == "text"
    assert msg.content[0].text.startswith(f"[{BACKEND[model]}] alpha")
    assert msg.usage.output_tokens > 0
    # The SDK sent its own headers (x-api-key, anthropic-version): accepted, not forwarded.
    seen = gw.backend(BACKEND[model]).last_headers
    assert "x-api-key" not in {k.lower() for k in seen}
    if model == "chat":
        sent = gw.backend("c1").last_body
        assert sent is not None
        assert sent["max_tokens"] == 64
        assert sent["messages"][0] == {"role": "system", "content": "Be brief."}


@pytest.mark.parametrize("model", ["nat", "chat"])
def test_messages_stream(gw: Harness, model: str) -> None:
    with ant(gw).messages.stream(
        model=model, max_tokens=64, messages=[{"role": "user", "content": "Say hello"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    expect_path(gw, model, "messages")
    assert text.startswith(f"[{BACKEND[model]}] alpha")
    assert final.content[0].text == text  # type: ignore[union-attr]
    assert final.model == model
    assert final.stop_reason == "end_turn"


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", ["nat", "chat"])
def test_messages_tool_round_trip(gw: Harness, model: str, stream: bool) -> None:
    client = ant(gw)
    ask: list[Any] = [{"role": "user", "content": "What is the answer?"}]
    if stream:
        with client.messages.stream(model=model, max_tokens=64, tools=TOOLS_ANT, messages=ask) as s:
            first = s.get_final_message()
    else:
        first = client.messages.create(model=model, max_tokens=64, tools=TOOLS_ANT, messages=ask)
    expect_path(gw, model, "messages")
    assert first.stop_reason == "tool_use"
    uses = [b for b in first.content if b.type == "tool_use"]
    assert len(uses) == 1
    use = uses[0]
    assert use.name == "lookup" and use.input == {"query": "What is the answer?"}
    follow_up = [
        *ask,
        {"role": "assistant", "content": [use.model_dump()]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "42"}],
        },
    ]
    second = client.messages.create(model=model, max_tokens=64, tools=TOOLS_ANT, messages=follow_up)
    assert second.content[0].text == f"[{BACKEND[model]}] tool said: 42"  # type: ignore[union-attr]


# -- fallback between a native and a translated model ------------------------------------------


@pytest.mark.parametrize(
    ("pinned", "down", "serving"), [("nat", "n1", "chat"), ("chat", "c1", "nat")]
)
def test_fallback_between_native_and_translated(
    gw: Harness, pinned: str, down: str, serving: str
) -> None:
    gw.set(down, mode="503")
    raw = oai(gw).responses.with_raw_response.create(model=pinned, input="hi")
    assert raw.headers["x-zeta-model"] == serving
    assert raw.headers["x-zeta-fallback"] == f"{pinned}->{serving} ({pinned}: 503 unavailable)"
    assert raw.parse().output_text.startswith(f"[{BACKEND[serving]}]")
    expect_path(gw, serving, "responses")
    assert gw.backend(down).last_path == PATHS["responses"] if pinned == "nat" else CHAT_PATH

    events = list(oai(gw).responses.create(model=pinned, input="hi", stream=True))
    assert events[-1].type == "response.completed"
    assert events[-1].response.model == serving  # type: ignore[union-attr]

    with ant(gw).messages.stream(
        model=pinned, max_tokens=32, messages=[{"role": "user", "content": "hi"}]
    ) as s:
        text = "".join(s.text_stream)
        assert s.response.headers["x-zeta-model"] == serving
    assert text.startswith(f"[{BACKEND[serving]}]")
    expect_path(gw, serving, "messages")


# -- broken streams and bad input ---------------------------------------------------------------


@pytest.mark.parametrize("model", ["nat", "chat"])
def test_a_stream_that_breaks_ends_with_an_error_each_sdk_raises(gw: Harness, model: str) -> None:
    gw.set(BACKEND[model], mode="cut", cut_after=4)
    with pytest.raises(openai.APIError, match="broke after the response started"):
        list(oai(gw).responses.create(model=model, input="hi", stream=True))
    with (
        pytest.raises(anthropic.APIStatusError, match="broke after the response started"),
        ant(gw).messages.stream(
            model=model, max_tokens=32, messages=[{"role": "user", "content": "hi"}]
        ) as s,
    ):
        list(s.text_stream)


def test_responses_bad_input_is_a_400_in_openai_shape(gw: Harness) -> None:
    client = oai(gw)
    with pytest.raises(openai.BadRequestError) as exc:
        client.responses.create(model="chat", input=[{"type": "nonsense"}])  # type: ignore[list-item]
    assert exc.value.body["param"] == "input[0].type"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as exc:
        client.responses.create(model="chat", input="hi", previous_response_id="resp_123")
    body: Any = exc.value.body
    assert (body["param"], body["code"]) == ("previous_response_id", "previous_response_not_found")
    assert "whole conversation" in body["message"]
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-17", input="hi")


def test_messages_errors_are_in_anthropics_shape(gw: Harness) -> None:
    r = httpx.post(
        gw.url + "/v1/messages",
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
    )
    assert r.status_code == 400
    assert r.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
    }
    with pytest.raises(anthropic.NotFoundError) as exc:
        ant(gw).messages.create(
            model="gpt-17", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    assert exc.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    for name in ("n1", "c1"):
        gw.set(name, mode="503", retry_after_s=2)
    with pytest.raises(anthropic.APIStatusError) as exc:
        ant(gw).messages.create(
            model="nat", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    assert exc.value.status_code == 503
    assert exc.value.response.headers["retry-after"]
    err = exc.value.body["error"]  # type: ignore[index]
    assert err["type"] == "overloaded_error"
    assert "nat: 503 unavailable" in err["message"]


def test_metrics_and_decisions_name_the_api(gw: Harness) -> None:
    oai(gw).responses.create(model="chat", input="hi")
    ant(gw).messages.create(model="nat", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    text = httpx.get(gw.url + "/metrics").text
    assert 'endpoint="responses"' in text and 'endpoint="messages"' in text
    status = httpx.get(gw.url + "/v1/router/status").json()
    endpoints = {d["endpoint"] for d in status["decisions"]}
    assert {"responses", "messages"} <= endpoints


# -- rerank -------------------------------------------------------------------------------------


def test_rerank_goes_to_the_model_that_declares_it(gw: Harness) -> None:
    body = {"model": "auto", "query": "red apple", "documents": ["green pear", "red apple pie"]}
    r = httpx.post(gw.url + "/v1/rerank", json=body)
    assert r.status_code == 200, r.text
    assert r.headers["x-zeta-model"] == "ranker"
    assert r.headers["x-zeta-task"] == "rerank"
    out = r.json()
    assert out["model"] == "ranker"
    assert [x["index"] for x in out["results"]] == [1, 0]
    assert gw.backend("r1").last_path == "/v1/rerank"
    r = httpx.post(gw.url + "/v1/rerank", json={**body, "model": "chat"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "model"
    r = httpx.post(gw.url + "/v1/rerank", json={"query": "x", "documents": []})
    assert r.status_code == 400 and r.json()["error"]["param"] == "documents"
    r = httpx.post(gw.url + "/v1/rerank", json=body, headers={"x-zeta-task": "code"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "x-zeta-task"


# -- previous_response_id ----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("first", "second"), [("nat", "chat"), ("chat", "nat"), ("chat", "chat")])
def test_previous_response_id_carries_the_conversation(
    gw: Harness, first: str, second: str, stream: bool
) -> None:
    """A tool round trip in two requests, the second naming the first by id: whichever path
    each takes, the second model sees the question, the call and its output."""
    client = oai(gw)
    ask = "What is the answer?"
    if stream:
        events = list(client.responses.create(model=first, input=ask, tools=TOOLS_OAI, stream=True))
        r1 = events[-1].response  # type: ignore[union-attr]
    else:
        r1 = client.responses.create(model=first, input=ask, tools=TOOLS_OAI)
    call = r1.output[0]
    assert call.type == "function_call"
    r2 = client.responses.create(
        model=second,
        previous_response_id=r1.id,
        tools=TOOLS_OAI,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "42"}],
    )
    assert r2.output_text == f"[{BACKEND[second]}] tool said: 42"
    assert r2.previous_response_id == r1.id
    sent = gw.backend(BACKEND[second]).last_body
    assert sent is not None and "previous_response_id" not in sent
    if second == "chat":
        roles = [m["role"] for m in sent["messages"]]
        assert roles == ["user", "assistant", "tool"]
        assert sent["messages"][0]["content"] == ask
        assert sent["messages"][1]["tool_calls"][0]["id"] == call.call_id
    else:
        kinds = [item.get("type", "message") for item in sent["input"]]
        assert kinds == ["message", "function_call", "function_call_output"]
    # And a third turn chains on the second.
    r3 = client.responses.create(model=first, previous_response_id=r2.id, input="thanks")
    assert r3.output_text.startswith(f"[{BACKEND[first]}]")


def test_store_false_is_not_kept(gw: Harness) -> None:
    client = oai(gw)
    r1 = client.responses.create(model="chat", input="hi", store=False)
    assert r1.store is False
    with pytest.raises(openai.BadRequestError) as exc:
        client.responses.create(model="chat", input="again", previous_response_id=r1.id)
    assert exc.value.body["code"] == "previous_response_not_found"  # type: ignore[index]


def test_a_backend_answering_a_stream_with_one_body_still_streams_the_api(gw: Harness) -> None:
    gw.set("c1", ignore_stream=True)
    events = list(oai(gw).responses.create(model="chat", input="hi", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == events[-1].response.output_text  # type: ignore[union-attr]
    assert text.startswith("[c1] alpha")
    with ant(gw).messages.stream(
        model="chat", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
    ) as s:
        streamed = "".join(s.text_stream)
        final = s.get_final_message()
    assert streamed.startswith("[c1] alpha") and final.stop_reason == "end_turn"

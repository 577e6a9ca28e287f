"""The pure translation between the agent APIs and chat completions (responses_api.py,
messages_api.py): requests, answers, streams, and what each refuses."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from zeta_router.errors import InvalidRequest
from zeta_router.upstream import messages_api, responses_api, responses_stream
from zeta_router.upstream.sse import split_events


def events(block: bytes) -> list[tuple[str, dict[str, Any]]]:
    return [(name, orjson.loads(data)) for name, data in split_events(block)]


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def call_delta(
    index: int, *, id: str | None = None, name: str | None = None, args: str = ""
) -> dict[str, Any]:
    fn: dict[str, Any] = {"arguments": args}
    if name is not None:
        fn["name"] = name
    call: dict[str, Any] = {"index": index, "function": fn}
    if id is not None:
        call["id"] = id
    return {"tool_calls": [call]}


USAGE = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}

# -- Responses: requests ------------------------------------------------------------------------


def test_responses_string_input_with_instructions_and_options() -> None:
    chat, echo = responses_api.to_chat(
        {
            "model": "m",
            "instructions": "Be brief.",
            "input": "hi",
            "max_output_tokens": 50,
            "temperature": 0.2,
            "stream": True,
            "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
            "reasoning": {"effort": "low"},
            "metadata": {"k": "v"},
        }
    )
    assert chat == {
        "model": "m",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "temperature": 0.2,
        "max_tokens": 50,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"type": "object"}},
        },
        "reasoning_effort": "low",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert echo["instructions"] == "Be brief." and echo["metadata"] == {"k": "v"}


def test_responses_items_become_chat_messages() -> None:
    chat, _ = responses_api.to_chat(
        {
            "input": [
                {"role": "developer", "content": "rules"},
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "look "},
                        {"type": "input_image", "image_url": "data:image/png;base64,AAA"},
                    ],
                },
                {"type": "reasoning", "summary": [], "id": "rs_1"},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "calling"}],
                },
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "g", "arguments": '{"a":1}'},
                {"type": "function_call_output", "call_id": "c1", "output": "one"},
                {
                    "type": "function_call_output",
                    "call_id": "c2",
                    "output": [{"type": "input_text", "text": "two"}],
                },
            ],
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "f"},
        }
    )
    m = chat["messages"]
    assert m[0] == {"role": "system", "content": "rules"}
    assert m[1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,AAA"},
    }
    # Both calls join the assistant turn before them, as chat wants one turn with tool_calls.
    assert m[2]["role"] == "assistant" and m[2]["content"] == "calling"
    assert [c["id"] for c in m[2]["tool_calls"]] == ["c1", "c2"]
    assert m[3] == {"role": "tool", "tool_call_id": "c1", "content": "one"}
    assert m[4] == {"role": "tool", "tool_call_id": "c2", "content": "two"}
    assert chat["tools"] == [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    ]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "f"}}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "input"),
        ({"input": ""}, "input"),
        ({"input": []}, "input"),
        ({"input": 3}, "input"),
        ({"input": [1]}, "input[0]"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"input": [{"role": "user"}]}, "input[0].content"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file"}]}]},
            "input[0].content[0].type",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_text"}]}]},
            "input[0].content[0].text",
        ),
        ({"input": [{"type": "function_call", "name": "f"}]}, "input[0].call_id"),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0]"),
        ({"input": [{"type": "reasoning"}]}, "input"),
        ({"input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"input": "x", "tools": "f"}, "tools"),
        ({"input": "x", "tool_choice": "maybe"}, "tool_choice"),
        ({"input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        ({"input": "x", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({"input": "x", "instructions": 5}, "instructions"),
        ({"input": "x", "conversation": "conv_1"}, "conversation"),
        ({"input": "x", "background": True}, "background"),
    ],
)
def test_responses_bad_requests_name_the_parameter(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        responses_api.to_chat(body)
    assert exc.value.param == param


# -- Responses: answers -------------------------------------------------------------------------


def test_responses_from_chat_text_reasoning_and_tool_calls() -> None:
    chat = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": "Let me check.",
                    "reasoning_content": "thinking...",
                    "tool_calls": [
                        {"id": "call_1", "function": {"name": "f", "arguments": '{"a":1}'}}
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {**USAGE, "prompt_tokens_details": {"cached_tokens": 3}},
    }
    obj = responses_api.from_chat(chat, "resp_x", 7, "served", {"instructions": "i"})
    assert obj["id"] == "resp_x" and obj["model"] == "served" and obj["created_at"] == 7
    assert obj["status"] == "completed" and obj["instructions"] == "i"
    assert [item["type"] for item in obj["output"]] == ["reasoning", "message", "function_call"]
    assert obj["output"][1]["content"][0]["text"] == "Let me check."
    call = obj["output"][2]
    assert (call["call_id"], call["name"], call["arguments"]) == ("call_1", "f", '{"a":1}')
    assert obj["usage"] == {
        "input_tokens": 11,
        "input_tokens_details": {"cached_tokens": 3},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 16,
    }


def test_responses_length_finish_is_incomplete() -> None:
    chat = {"choices": [{"message": {"content": "abc"}, "finish_reason": "length"}]}
    obj = responses_api.from_chat(chat, "resp_x", 0, "m", {})
    assert obj["status"] == "incomplete"
    assert obj["incomplete_details"] == {"reason": "max_output_tokens"}


def test_responses_stream_translation() -> None:
    tr = responses_stream.StreamTranslator("resp_s", 1, "served", {})
    out = tr.start()
    out += tr.feed(chunk({"role": "assistant", "content": "Hel"}))
    out += tr.feed(chunk({"content": "lo"}))
    out += tr.feed(chunk(call_delta(0, id="call_a", name="f", args='{"q":')))
    out += tr.feed(chunk(call_delta(0, args='"x"}')))
    out += tr.feed(chunk(call_delta(1, id="call_b", name="g", args="{}")))
    out += tr.feed(chunk({}, "tool_calls"))
    out += tr.feed({"choices": [], "usage": USAGE})
    out += tr.finish()
    evs = events(out)
    names = [n for n, _ in evs]
    assert names == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [d["type"] for _, d in evs] == names
    assert [d["sequence_number"] for _, d in evs] == list(range(len(evs)))
    final = evs[-1][1]["response"]
    assert final["usage"]["total_tokens"] == 16
    out_items = final["output"]
    assert out_items[0]["content"][0]["text"] == "Hello"
    assert (out_items[1]["call_id"], out_items[1]["arguments"]) == ("call_a", '{"q":"x"}')
    assert (out_items[2]["call_id"], out_items[2]["name"]) == ("call_b", "g")
    assert [e[1]["output_index"] for e in evs if e[0] == "response.output_item.done"] == [0, 1, 2]


def test_responses_events_for_a_whole_answer_match_its_object() -> None:
    obj = responses_api.from_chat(
        {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]}, "resp_w", 0, "m", {}
    )
    evs = events(responses_stream.events_for(obj))
    assert evs[0][0] == "response.created" and evs[-1][0] == "response.completed"
    assert "".join(d["delta"] for n, d in evs if n == "response.output_text.delta") == "hi"
    assert evs[-1][1]["response"] == obj


def test_responses_terminal_event_detection() -> None:
    done = responses_stream.event("response.completed", {"type": "response.completed"})
    quoting = responses_stream.event(
        "response.output_text.delta", {"delta": "then response.completed and an error"}
    )
    assert responses_stream.is_terminal(done)
    assert responses_stream.is_terminal(quoting + done)
    assert not responses_stream.is_terminal(quoting)
    assert responses_stream.is_terminal(b'data: {"type":"response.failed"}\n\n')


# -- Messages: requests -------------------------------------------------------------------------


def test_messages_to_chat() -> None:
    chat = messages_api.to_chat(
        {
            "model": "m",
            "max_tokens": 100,
            "system": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "see"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "QQ"},
                        },
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hm", "signature": "s"},
                        {"type": "text", "text": "calling"},
                        {"type": "tool_use", "id": "tu1", "name": "f", "input": {"a": 1}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "tu1", "content": "ok"},
                        {
                            "type": "tool_result",
                            "tool_use_id": "tu2",
                            "content": [{"type": "text", "text": "bad"}],
                            "is_error": True,
                        },
                        {"type": "text", "text": "now?"},
                    ],
                },
            ],
            "tools": [{"name": "f", "description": "d", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
            "stop_sequences": ["END"],
            "top_k": 5,
            "stream": True,
        }
    )
    m = chat["messages"]
    assert m[0] == {"role": "system", "content": "a\nb"}
    assert m[1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,QQ"},
    }
    assert m[2] == {
        "role": "assistant",
        "content": "calling",
        "tool_calls": [
            {"id": "tu1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
        ],
    }
    # Tool results first (they answer the assistant turn), then the rest of the user turn.
    assert m[3] == {"role": "tool", "tool_call_id": "tu1", "content": "ok"}
    assert m[4] == {"role": "tool", "tool_call_id": "tu2", "content": "Error: bad"}
    assert m[5] == {"role": "user", "content": "now?"}
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {"name": "f", "parameters": {"type": "object"}, "description": "d"},
        }
    ]
    assert chat["tool_choice"] == "required" and chat["parallel_tool_calls"] is False
    assert chat["stop"] == ["END"] and chat["top_k"] == 5 and chat["max_tokens"] == 100
    assert chat["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"max_tokens": True, "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"max_tokens": 5}, "messages"),
        ({"max_tokens": 5, "messages": []}, "messages"),
        ({"max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        ({"max_tokens": 5, "messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
        (
            {"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "tool_use"}]}]},
            "messages.0.content.0.type",
        ),
        (
            {"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "document"}]}]},
            "messages.0.content.0.type",
        ),
        (
            {
                "max_tokens": 5,
                "messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}],
            },
            "messages.0.content.0.source.type",
        ),
        (
            {"max_tokens": 5, "system": 3, "messages": [{"role": "user", "content": "x"}]},
            "system",
        ),
        (
            {
                "max_tokens": 5,
                "tools": [{"type": "web_search_20250305", "name": "w"}],
                "messages": [{"role": "user", "content": "x"}],
            },
            "tools.0.type",
        ),
        (
            {
                "max_tokens": 5,
                "tools": [{"name": "f"}],
                "messages": [{"role": "user", "content": "x"}],
            },
            "tools.0.input_schema",
        ),
        (
            {
                "max_tokens": 5,
                "tool_choice": {"type": "maybe"},
                "messages": [{"role": "user", "content": "x"}],
            },
            "tool_choice.type",
        ),
        (
            {
                "max_tokens": 5,
                "stop_sequences": "x",
                "messages": [{"role": "user", "content": "x"}],
            },
            "stop_sequences",
        ),
    ],
)
def test_messages_bad_requests_name_the_parameter(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        messages_api.to_chat(body)
    assert exc.value.param == param


# -- Messages: answers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
    ],
)
def test_messages_stop_reasons(finish: str | None, stop: str) -> None:
    chat = {"choices": [{"message": {"content": "x"}, "finish_reason": finish}], "usage": USAGE}
    msg = messages_api.from_chat(chat, "msg_1", "served")
    assert msg["stop_reason"] == stop
    assert msg["usage"]["input_tokens"] == 11 and msg["usage"]["output_tokens"] == 5


def test_messages_from_chat_with_tool_calls() -> None:
    chat = {
        "choices": [
            {
                "message": {
                    "content": "sure",
                    "tool_calls": [
                        {"id": "c1", "function": {"name": "f", "arguments": '{"a": 1}'}},
                        {"function": {"name": "g", "arguments": "not json"}},
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ]
    }
    msg = messages_api.from_chat(chat, "msg_1", "served")
    assert msg["model"] == "served" and msg["stop_reason"] == "tool_use"
    text, first, second = msg["content"]
    assert text == {"type": "text", "text": "sure"}
    assert first == {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}}
    # Arguments that are not a JSON object are kept, not dropped.
    assert second["input"] == {"arguments": "not json"} and second["id"].startswith("toolu_")


def test_messages_stream_translation() -> None:
    tr = messages_api.StreamTranslator("msg_s", "served")
    out = tr.start()
    out += tr.feed(chunk({"role": "assistant", "reasoning_content": "hmm"}))
    out += tr.feed(chunk({"content": "Hi"}))
    out += tr.feed(chunk(call_delta(0, id="c1", name="f", args='{"a"')))
    out += tr.feed(chunk(call_delta(0, args=":1}")))
    out += tr.feed(chunk({}, "tool_calls"))
    out += tr.feed({"choices": [], "usage": USAGE})
    out += tr.finish()
    evs = events(out)
    assert [n for n, _ in evs] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert evs[0][1]["message"]["model"] == "served"
    assert evs[2][1]["delta"] == {"type": "thinking_delta", "thinking": "hmm"}
    assert evs[3][1]["delta"]["type"] == "signature_delta"
    assert evs[5][1]["content_block"] == {"type": "text", "text": ""}
    assert evs[8][1]["content_block"]["type"] == "tool_use" and evs[8][1]["index"] == 2
    json = "".join(
        d["delta"]["partial_json"]
        for n, d in evs
        if d.get("index") == 2 and n == "content_block_delta"
    )
    assert orjson.loads(json) == {"a": 1}
    assert evs[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert evs[-2][1]["usage"]["output_tokens"] == 5


def test_messages_events_for_a_whole_answer() -> None:
    msg = messages_api.from_chat(
        {
            "choices": [
                {
                    "message": {
                        "content": "hi",
                        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}],
                    }
                }
            ]
        },
        "msg_w",
        "m",
    )
    evs = events(messages_api.events_for(msg))
    assert evs[0][0] == "message_start" and evs[-1][0] == "message_stop"
    starts = [d["content_block"]["type"] for n, d in evs if n == "content_block_start"]
    assert starts == ["text", "tool_use"]
    assert evs[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_messages_error_shape_and_terminal_events() -> None:
    assert messages_api.error_body(503, "down") == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "down"},
    }
    assert messages_api.error_body(413, "big")["error"]["type"] == "request_too_large"
    assert messages_api.error_body(418, "odd")["error"]["type"] == "api_error"
    stop = messages_api.event("message_stop", {"type": "message_stop"})
    text = messages_api.event(
        "content_block_delta", {"delta": {"type": "text_delta", "text": "message_stop"}}
    )
    assert messages_api.is_terminal(stop) and not messages_api.is_terminal(text)
    assert messages_api.is_terminal(messages_api.error_event("x"))


def test_a_turn_of_tool_calls_only_has_empty_not_null_content() -> None:
    """llama-cpp-python's server refuses an assistant message whose content is null (a 500)."""
    chat, _ = responses_api.to_chat(
        {
            "input": [
                {"role": "user", "content": "q"},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c", "output": "r"},
            ]
        }
    )
    assert chat["messages"][1]["content"] == ""
    chat = messages_api.to_chat(
        {
            "max_tokens": 5,
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f"}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]},
            ],
        }
    )
    assert chat["messages"][1]["content"] == ""
    assert chat["messages"][2] == {"role": "tool", "tool_call_id": "t", "content": ""}

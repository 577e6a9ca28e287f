"""The fake model server's tool calls, agent-API routes and rerank route.

Written from the wire formats, independently of the router's own translation modules (a test
that used those to fake a backend would agree with itself whatever they did):

- chat completions with ``tools``: the model calls the first tool, and once a tool result is
  the last message it answers ``[name] tool said: ...``;
- ``POST /v1/responses`` as OpenAI and llama.cpp's ``llama-server`` serve it: a Response object,
  or its semantic events (``event:`` + ``data:``, ending with ``response.completed``, no
  ``[DONE]``);
- ``POST /v1/messages`` as Anthropic and ``llama-server`` serve it: a Message, or
  ``message_start`` ... ``message_stop``;
- ``POST /v1/rerank`` (llama.cpp / Jina shape): documents scored by words shared with the query.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from aiohttp import web

from zeta_router.testing.faults import Faults
from zeta_router.testing.prompt_cache import PromptCache


class FakeBackend(Protocol):
    """What these routes use of the fake backend serving them."""

    name: str
    faults: Faults
    completed: int
    prompt_cache: PromptCache

    async def read_json(self, request: web.Request) -> dict[str, Any]: ...

    async def gate(self, request: web.Request) -> web.StreamResponse | None: ...

    def error(self, status: int, message: str, kind: str) -> web.Response: ...

    def model_of(self, body: dict[str, Any]) -> str: ...

    def next_id(self) -> int: ...


_WORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")


@dataclass(frozen=True)
class Turn:
    """What the fake model says: text, or one tool call."""

    text: str | None = None
    call_id: str = ""
    tool: str = ""
    arguments: str = ""


def _decide(name: str, tools: list[str], asked: str, tool_output: str | None, n: int) -> Turn:
    if tool_output is not None:
        return Turn(text=f"[{name}] tool said: {tool_output}")
    if tools:
        args = orjson.dumps({"query": asked[:40]}).decode()
        return Turn(call_id=f"call_{name}_{n}", tool=tools[0], arguments=args)
    return Turn(text=f"[{name}] " + " ".join(_WORDS))


def _chat_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def chat_turn(name: str, body: dict[str, Any], n: int) -> Turn | None:
    """The turn for a chat request that uses tools; None for the plain word answer."""
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    tools = [
        t["function"]["name"]
        for t in body.get("tools") or []
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]
    if last.get("role") == "tool":
        return _decide(name, tools, "", _chat_text(last.get("content")), n)
    if not tools:
        return None
    return _decide(name, tools, _chat_text(last.get("content")), None, n)


def chat_message(turn: Turn) -> tuple[dict[str, Any], str]:
    """The assistant message and finish reason of a non-stream chat answer."""
    if turn.text is not None:
        return {"role": "assistant", "content": turn.text}, "stop"
    call = {
        "id": turn.call_id,
        "type": "function",
        "function": {"name": turn.tool, "arguments": turn.arguments},
    }
    return {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"


def chat_deltas(turn: Turn) -> list[tuple[dict[str, Any], str | None]]:
    """(delta, finish_reason) per chunk of a streamed chat answer."""
    if turn.text is not None:
        words = turn.text.split(" ")
        out: list[tuple[dict[str, Any], str | None]] = [({"role": "assistant"}, None)]
        out += [({"content": w if i == 0 else " " + w}, None) for i, w in enumerate(words)]
        return [*out, ({}, "stop")]
    half = len(turn.arguments) // 2
    first = {
        "index": 0,
        "id": turn.call_id,
        "type": "function",
        "function": {"name": turn.tool, "arguments": ""},
    }
    return [
        ({"role": "assistant", "content": None, "tool_calls": [first]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": turn.arguments[:half]}}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": turn.arguments[half:]}}]}, None),
        ({}, "tool_calls"),
    ]


def include_usage(body: dict[str, Any]) -> str | None:
    """How a stream reports usage: ``final`` (``stream_options.include_usage``: one more
    chunk at the end), ``continuous`` (vLLM's ``continuous_usage_stats`` too: on every chunk,
    then the final one), or None."""
    options = body.get("stream_options")
    if not isinstance(options, dict) or options.get("include_usage") is not True:
        return None
    return "continuous" if options.get("continuous_usage_stats") is True else "final"


def usage(cached: tuple[int, int] | None, generated: int) -> dict[str, Any]:
    """What an answer says it used: a 10-token prompt, or the prompt cache's figures."""
    if cached is None:
        return {"prompt_tokens": 10, "completion_tokens": generated, "total_tokens": 10 + generated}
    return {
        "prompt_tokens": cached[1],
        "completion_tokens": generated,
        "total_tokens": cached[1] + generated,
        "prompt_tokens_details": {"cached_tokens": cached[0]},
    }


def _sse(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def write_events(
    backend: FakeBackend, request: web.Request, events: list[bytes]
) -> web.StreamResponse:
    """Stream ``events`` with the fault switches that apply to streams (cut, chunk delay)."""
    f = backend.faults
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await resp.prepare(request)
    for i, ev in enumerate(events):
        if f.mode == "cut" and i == f.cut_after:
            assert request.transport is not None
            request.transport.abort()
            return resp
        if i and f.chunk_delay_s:
            await asyncio.sleep(f.chunk_delay_s)
        await resp.write(ev)
    backend.completed += 1
    await resp.write_eof()
    return resp


def _json(obj: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(obj), content_type="application/json")


# -- /v1/responses ----------------------------------------------------------------------------


def _responses_turn(name: str, body: dict[str, Any], n: int) -> Turn:
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    last = items[-1] if isinstance(items, list) and items and isinstance(items[-1], dict) else {}
    tools = [t["name"] for t in body.get("tools") or [] if isinstance(t, dict) and "name" in t]
    if last.get("type") == "function_call_output":
        output = last.get("output")
        return _decide(name, tools, "", output if isinstance(output, str) else "", n)
    content = last.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return _decide(name, tools, content if isinstance(content, str) else "", None, n)


async def responses(backend: FakeBackend, request: web.Request) -> web.StreamResponse:
    body = await backend.read_json(request)
    gated = await backend.gate(request)
    if gated is not None:
        return gated
    if body.get("previous_response_id"):
        return backend.error(
            400, "llama.cpp does not support 'previous_response_id'.", "invalid_request_error"
        )
    n = backend.next_id()
    rid = f"resp_{backend.name}_{n}"
    model = backend.model_of(body)
    turn = _responses_turn(backend.name, body, n)
    if turn.text is not None:
        item: dict[str, Any] = {
            "type": "message",
            "id": f"msg_{backend.name}_{n}",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": turn.text, "annotations": []}],
        }
    else:
        item = {
            "type": "function_call",
            "id": f"fc_{backend.name}_{n}",
            "call_id": turn.call_id,
            "name": turn.tool,
            "arguments": turn.arguments,
            "status": "completed",
        }
    usage: dict[str, Any] = {"input_tokens": 10, "output_tokens": 8, "total_tokens": 18}
    cached = backend.prompt_cache.serve(body, backend.faults.prompt_cache)
    if cached is not None:  # as vLLM reports it: input_tokens counts the cached ones too
        usage = {
            "input_tokens": cached[1],
            "input_tokens_details": {"cached_tokens": cached[0]},
            "output_tokens": 8,
            "total_tokens": cached[1] + 8,
        }
    final = {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": model,
        "output": [item],
        "usage": usage,
    }
    if not body.get("stream"):
        backend.completed += 1
        return _json(final)
    seq = iter(range(10**6))

    def ev(kind: str, data: dict[str, Any]) -> bytes:
        return _sse(kind, {"type": kind, **data, "sequence_number": next(seq)})

    open_resp = {"id": rid, "object": "response", "status": "in_progress", "output": []}
    events = [
        ev("response.created", {"response": open_resp}),
        ev("response.in_progress", {"response": open_resp}),
    ]
    if turn.text is not None:
        at = {"item_id": item["id"], "output_index": 0, "content_index": 0}
        events.append(
            ev("response.output_item.added", {"output_index": 0, "item": {**item, "content": []}})
        )
        part = {"type": "output_text", "text": "", "annotations": []}
        events.append(ev("response.content_part.added", {**at, "part": part}))
        for i, word in enumerate(turn.text.split(" ")):
            delta = word if i == 0 else " " + word
            events.append(ev("response.output_text.delta", {**at, "delta": delta}))
        events.append(ev("response.output_text.done", {**at, "text": turn.text}))
        events.append(ev("response.content_part.done", {**at, "part": item["content"][0]}))
    else:
        at = {"item_id": item["id"], "output_index": 0}
        added = {**item, "arguments": "", "status": "in_progress"}
        events.append(ev("response.output_item.added", {"output_index": 0, "item": added}))
        events.append(ev("response.function_call_arguments.delta", {**at, "delta": turn.arguments}))
        events.append(
            ev("response.function_call_arguments.done", {**at, "arguments": turn.arguments})
        )
    events.append(ev("response.output_item.done", {"output_index": 0, "item": item}))
    events.append(ev("response.completed", {"response": final}))
    return await write_events(backend, request, events)


# -- /v1/messages -----------------------------------------------------------------------------


def _messages_turn(name: str, body: dict[str, Any], n: int) -> Turn:
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    tools = [t["name"] for t in body.get("tools") or [] if isinstance(t, dict) and "name" in t]
    content = last.get("content")
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                result = block.get("content")
                if isinstance(result, list):
                    result = "".join(b.get("text", "") for b in result if isinstance(b, dict))
                return _decide(name, tools, "", result if isinstance(result, str) else "", n)
        content = "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return _decide(name, tools, content if isinstance(content, str) else "", None, n)


async def messages(backend: FakeBackend, request: web.Request) -> web.StreamResponse:
    body = await backend.read_json(request)
    gated = await backend.gate(request)
    if gated is not None:
        return gated
    n = backend.next_id()
    mid = f"msg_{backend.name}_{n}"
    model = backend.model_of(body)
    turn = _messages_turn(backend.name, body, n)
    if turn.text is not None:
        block: dict[str, Any] = {"type": "text", "text": turn.text}
        stop = "end_turn"
    else:
        block = {
            "type": "tool_use",
            "id": turn.call_id,
            "name": turn.tool,
            "input": orjson.loads(turn.arguments),
        }
        stop = "tool_use"
    usage: dict[str, int] = {"input_tokens": 10, "output_tokens": 8}
    cached = backend.prompt_cache.serve(body, backend.faults.prompt_cache)
    if cached is not None:
        # llama-server's figures: input_tokens is the part of the prompt not read from the
        # cache (it writes no cache_creation_input_tokens).
        usage = {
            "cache_read_input_tokens": cached[0],
            "input_tokens": cached[1] - cached[0],
            "output_tokens": 8,
        }
    message = {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [block],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }
    if not body.get("stream"):
        backend.completed += 1
        return _json(message)
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 0}}
    events = [_sse("message_start", {"type": "message_start", "message": start})]
    if turn.text is not None:
        first: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [
            {"type": "text_delta", "text": w if i == 0 else " " + w}
            for i, w in enumerate(turn.text.split(" "))
        ]
    else:
        first = {**block, "input": {}}
        half = len(turn.arguments) // 2
        deltas = [
            {"type": "input_json_delta", "partial_json": turn.arguments[:half]},
            {"type": "input_json_delta", "partial_json": turn.arguments[half:]},
        ]
    events.append(
        _sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": first},
        )
    )
    events.append(_sse("ping", {"type": "ping"}))
    for delta in deltas:
        events.append(
            _sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        )
    events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 8},
            },
        )
    )
    events.append(_sse("message_stop", {"type": "message_stop"}))
    return await write_events(backend, request, events)


# -- /v1/rerank -------------------------------------------------------------------------------


async def rerank(backend: FakeBackend, request: web.Request) -> web.StreamResponse:
    body = await backend.read_json(request)
    gated = await backend.gate(request)
    if gated is not None:
        return gated
    query = set(str(body.get("query", "")).lower().split())
    docs = body.get("documents") or []
    results = []
    for i, doc in enumerate(docs):
        text = doc.get("text", "") if isinstance(doc, dict) else str(doc)
        words = set(text.lower().split())
        score = len(query & words) / (len(query) or 1)
        results.append({"index": i, "relevance_score": round(score, 4)})
    results.sort(key=lambda r: -float(r["relevance_score"]))
    top = body.get("top_n")
    if isinstance(top, int) and top > 0:
        results = results[:top]
    backend.completed += 1
    return _json(
        {
            "model": backend.model_of(body),
            "object": "list",
            "usage": {"prompt_tokens": 8, "total_tokens": 8},
            "results": results,
        }
    )

"""CPU cost of translating the agent APIs (/v1/responses, /v1/messages) to and from chat.

    PYTHONPATH=src python benchmarks/agent_apis.py

Times, per call, with ``time.thread_time_ns`` (this thread's CPU, immune to other processes on
a shared box): parsing a request into its routed chat form (``apis.parse``, which validates,
translates, builds the analyzer's prompt and encodes the chat body), translating a complete
chat answer back, and translating one streamed chat chunk into the API's events. The request
is a small agent turn (instructions, a user message, a function tool); the chunk is one word.
Medians over many calls after a warm-up.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from zeta_router.http import apis
from zeta_router.http.protocol import parse_request
from zeta_router.upstream import messages_api, responses_api, responses_stream

TOOL = {"type": "object", "properties": {"query": {"type": "string"}}}
RESPONSES = orjson.dumps(
    {
        "model": "auto",
        "instructions": "You are a careful coding agent.",
        "input": [{"role": "user", "content": "Fix this: def add(a, b): return a - b"}],
        "tools": [{"type": "function", "name": "lookup", "parameters": TOOL}],
    }
)
MESSAGES = orjson.dumps(
    {
        "model": "auto",
        "max_tokens": 512,
        "system": "You are a careful coding agent.",
        "messages": [{"role": "user", "content": "Fix this: def add(a, b): return a - b"}],
        "tools": [{"name": "lookup", "input_schema": TOOL}],
    }
)
CHAT = orjson.dumps(
    {
        "model": "auto",
        "messages": [
            {"role": "system", "content": "You are a careful coding agent."},
            {"role": "user", "content": "Fix this: def add(a, b): return a - b"},
        ],
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": TOOL}}],
    }
)
ANSWER: dict[str, Any] = {
    "id": "x",
    "object": "chat.completion",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Use a + b. " * 20},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 40, "completion_tokens": 60, "total_tokens": 100},
}
CHUNK: dict[str, Any] = {"choices": [{"index": 0, "delta": {"content": " word"}}]}


def median_ns(fn: Callable[[], object], n: int = 20000) -> float:
    for _ in range(n // 10):
        fn()
    samples = []
    for _ in range(n):
        t0 = time.thread_time_ns()
        fn()
        samples.append(time.thread_time_ns() - t0)
    return statistics.median(samples)


def main() -> int:
    rtr = responses_stream.StreamTranslator("resp_b", 0, "m", {})
    rtr.start()
    mtr = messages_api.StreamTranslator("msg_b", "m")
    mtr.start()
    rows = [
        ("parse: chat (baseline)", lambda: parse_request("chat", CHAT)),
        ("parse: responses", lambda: apis.parse("responses", RESPONSES)),
        ("parse: messages", lambda: apis.parse("messages", MESSAGES)),
        (
            "answer: chat -> responses",
            lambda: responses_api.from_chat(ANSWER, "resp_b", 0, "m", {}),
        ),
        ("answer: chat -> messages", lambda: messages_api.from_chat(ANSWER, "msg_b", "m")),
        ("stream chunk: chat -> responses", lambda: rtr.feed(CHUNK)),
        ("stream chunk: chat -> messages", lambda: mtr.feed(CHUNK)),
    ]
    print(f"{'step':34} {'median µs':>10}")
    for name, fn in rows:
        print(f"{name:34} {median_ns(fn) / 1000:10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

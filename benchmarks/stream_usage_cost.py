"""What settling streamed answers' tpm to their reported usage costs (issue 19's leftover).

    python benchmarks/stream_usage_cost.py                      # this tree
    PYTHONPATH=/work/main/src python benchmarks/stream_usage_cost.py --skip-micro   # another

1. In process, per stream end: reading the cache report and the token count from a stream's
   last blocks (``upstream.cache_report.stream_report``: one look at the end of the stream,
   nothing per chunk) for each way a server reports them: OpenAI's ``include_usage`` chunk
   then ``[DONE]``, llama-server's final chunk (usage and timings), Anthropic's
   ``message_delta`` (input tokens from ``message_start``), the Responses API's
   ``response.completed``, and a stream that reports nothing.
2. The whole app in process (routing included, no sockets): CPU per streamed chat request of a
   key with rpm, tpm and max_parallel, over a MockTransport stream of 16 chunks that ends with
   an ``include_usage`` chunk. Run it on two trees (``PYTHONPATH``) and compare: only this
   tree settles the charge to the usage; ``--rounds`` runs are printed, take the median.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import time
from typing import Any

import orjson

import _common as common
from zeta_router.config import parse_config
from zeta_router.http.server import App
from zeta_router.router import Router

KEY = "sk-bench-stream-usage"


def _chunk(**extra: Any) -> bytes:
    obj = {"id": "x", "object": "chat.completion.chunk", "model": "m", **extra}
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _word(w: str) -> bytes:
    return _chunk(choices=[{"index": 0, "delta": {"content": w}, "finish_reason": None}])


USAGE = {"prompt_tokens": 40, "completion_tokens": 16, "total_tokens": 56}
DONE = b"data: [DONE]\n\n"
STOP = _chunk(choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])


def _cases() -> dict[str, tuple[bytes, bytes, bytes]]:
    """(first, before, last) blocks of a stream's end, by how its server reports usage."""
    first = _word("hello")
    llama = _chunk(
        choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}],
        usage=USAGE,
        timings={"cache_n": 20, "prompt_n": 20, "predicted_n": 16, "prompt_ms": 1.5},
    )

    def sse(kind: str, data: dict[str, Any]) -> bytes:
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    start = sse("message_start", {"type": "message_start", "message": {
        "id": "m", "type": "message", "role": "assistant", "content": [],
        "usage": {"input_tokens": 40, "output_tokens": 0}}})
    # llama-server's /v1/messages: the cache read only in message_start.
    start_cached = sse("message_start", {"type": "message_start", "message": {
        "id": "m", "type": "message", "role": "assistant", "content": [],
        "usage": {"cache_read_input_tokens": 30, "input_tokens": 10, "output_tokens": 0}}})
    delta = sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                  "usage": {"output_tokens": 16}})
    done = sse("response.completed", {"type": "response.completed", "response": {
        "id": "r", "object": "response", "status": "completed", "output": [
            {"type": "message", "role": "assistant",
             "content": [{"type": "output_text", "text": "hello " * 16}]}],
        "usage": {"input_tokens": 40, "output_tokens": 16, "total_tokens": 56}}})
    # vLLM's /v1/responses: the cache figure in the final event's usage.
    done_cached = done.replace(
        b'"input_tokens":40,', b'"input_tokens":40,"input_tokens_details":{"cached_tokens":30},'
    )
    return {
        "openai include_usage": (first, STOP + _chunk(choices=[], usage=USAGE), DONE),
        "llama-server final chunk": (first, _word(" there"), llama + DONE),
        "anthropic message_delta": (start, delta, sse("message_stop", {"type": "message_stop"})),
        "llama-server messages, cache in message_start": (
            start_cached, delta, sse("message_stop", {"type": "message_stop"})),
        "responses completed": (first, _word(" there"), done),
        "vllm responses completed, cached tokens": (first, _word(" there"), done_cached),
        "no usage reported": (first, STOP, DONE),
    }


def micro(n: int) -> None:
    from zeta_router.upstream.cache_report import stream_report

    for name, (first, before, last) in _cases().items():
        report = stream_report(first, before, last)
        t0 = time.process_time()
        for _ in range(n):
            stream_report(first, before, last)
        us = (time.process_time() - t0) / n * 1e6
        cache = report.cache
        cached = None if cache is None else (cache.cached_tokens, cache.prompt_tokens)
        print(f"stream end, {name}: {us:.2f} us (tokens {report.tokens}, cache {cached})")


async def whole_app(n: int) -> float:
    """CPU time per streamed request of the whole app, in microseconds."""
    from zeta_router.clock import SystemClock
    from zeta_router.testing.mock_transport import MockRequest, MockStream, MockTransport

    clock = SystemClock()
    blocks = [_word(f" w{i}") for i in range(15)]
    blocks += [STOP, _chunk(choices=[], usage=USAGE), DONE]

    async def answer(_: MockRequest) -> MockStream:
        return MockStream(blocks, clock)

    digest = hashlib.sha256(KEY.encode()).hexdigest()
    cfg = {
        "health": {"enabled": False, "scrape_metrics": False},
        "analysis": {"analyzer": "heuristic"},
        "models": {"m": {"replicas": [{"url": "http://127.0.0.1:9"}]}},
        "auth": {"keys": [{"name": "bench", "key_sha256": digest, "rpm": 10**9,
                           "tpm": 10**12, "max_parallel": 10**6}]},
    }
    router = Router(parse_config(cfg), clock=clock, transport=MockTransport(answer, clock))
    app = App(router)
    router.telemetry.configure(access_log_enabled=False, log_prompts=False)
    body = orjson.dumps({"model": "m", "stream": True, "max_tokens": 64,
                         "stream_options": {"include_usage": True},
                         "messages": [{"role": "user", "content": "hi " * 40}]})
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions",
             "headers": [(b"host", b"x"), (b"content-type", b"application/json"),
                         (b"authorization", f"Bearer {KEY}".encode())],
             "http_version": "1.1", "client": ("127.0.0.1", 1)}
    statuses: list[int] = []
    one = common.asgi_staying_client(app, scope, body, statuses)
    took = await common.cpu_us_per_call(one, n, warm=1000)  # warmed: caches, plan cache
    assert set(statuses) == {200}, set(statuses)
    await router.close()
    return took


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--micro", type=int, default=100_000, help="iterations per stream end")
    ap.add_argument("--requests", type=int, default=10_000, help="streamed requests per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--skip-micro", action="store_true", help="(a tree without stream_report)")
    args = ap.parse_args(argv)
    print(f"machine: {common.machine_line()}")
    if not args.skip_micro:
        micro(args.micro)
    if args.skip_micro:
        runs = [asyncio.run(whole_app(args.requests)) for _ in range(args.rounds)]
        print("whole app, streamed request with a key: "
              + ", ".join(f"{r:.1f}" for r in runs)
              + f" us/request (median {statistics.median(runs):.1f})")
        return 0
    # In one process, rounds interleaved: the relay as it is, and with the stream end reading
    # only the cache report as before (the tpm charge then keeps its estimate).
    from zeta_router.upstream import cache_report, relay

    real = relay.stream_report

    def cache_only(first: bytes, before: bytes, last: bytes) -> cache_report.StreamReport:
        return cache_report.StreamReport(cache_report.stream_cache_report(before, last))

    diffs = []
    for r in range(args.rounds):
        took = {}
        for name in (("settled", "cache only") if r % 2 == 0 else ("cache only", "settled")):
            relay.stream_report = real if name == "settled" else cache_only  # type: ignore[assignment]
            took[name] = asyncio.run(whole_app(args.requests))
        diffs.append(took["settled"] - took["cache only"])
        print(f"whole app, streamed request with a key, round {r + 1}: settled to usage "
              f"{took['settled']:.1f} us, cache report only {took['cache only']:.1f} us "
              f"({diffs[-1]:+.1f} us)")
    relay.stream_report = real
    print(f"median difference {statistics.median(diffs):+.1f} us/request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

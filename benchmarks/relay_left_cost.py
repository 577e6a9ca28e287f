"""What the relay pays to charge a stream its client left (issue 19's leftover): the blocks it
relays are counted (an integer add each), and a stream the client leaves reads what the
upstream reported so far once, as it ends.

    PYTHONPATH=src:benchmarks python benchmarks/relay_left_cost.py
    PYTHONPATH=/work/main/src:benchmarks python benchmarks/relay_left_cost.py   # another tree

In process, CPU time of ``relay._relay`` alone (no sockets, no ASGI) over a MockStream of chat
chunks as llama-server writes them: per chunk of a stream read to its end (256 chunks, then
``[DONE]``), and per stream the client leaves after 3 chunks (the relay closed there, as the
server closes it when the client is gone). For scale, the whole app's CPU per relayed chunk
(routing, relay, ASGI sends; no sockets): a 256-chunk stream's request minus a 16-chunk one's,
over 240. Compare two trees by running this on each, a few times, interleaved.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import orjson

import _common as common
from zeta_router.clock import SystemClock
from zeta_router.config import parse_config
from zeta_router.fleet.state import Fleet, ReplicaState
from zeta_router.routing.decision import Decision
from zeta_router.testing.mock_transport import MockStream
from zeta_router.upstream import relay


def _chunk(i: int) -> bytes:
    obj = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": f" w{i}"}, "finish_reason": None}],
    }
    return b"data: " + orjson.dumps(obj) + b"\n\n"


BLOCKS = [_chunk(i) for i in range(256)] + [b"data: [DONE]\n\n"]


def _release(_: ReplicaState) -> None:
    pass


async def _whole(replica: ReplicaState, clock: SystemClock, n: int) -> float:
    """CPU µs per chunk of streams relayed to their end."""
    t0 = time.process_time()
    for _ in range(n):
        d = Decision("r", "chat", 0.0, stream=True)
        async for _block in relay._relay(MockStream(BLOCKS, clock), replica, d, clock, _release):
            pass
    return (time.process_time() - t0) / (n * len(BLOCKS)) * 1e6


async def _left(replica: ReplicaState, clock: SystemClock, n: int) -> float:
    """CPU µs per stream whose client leaves after 3 chunks."""
    t0 = time.process_time()
    for _ in range(n):
        d = Decision("r", "chat", 0.0, stream=True)
        gen = relay._relay(MockStream(BLOCKS, clock), replica, d, clock, _release)
        for _ in range(3):
            await gen.__anext__()
        await gen.aclose()
    return (time.process_time() - t0) / n * 1e6


async def _app_per_request(chunks: int, n: int) -> float:
    """CPU µs per streamed chat request of the whole app over a MockTransport stream."""
    from zeta_router.http.server import App
    from zeta_router.router import Router
    from zeta_router.testing.mock_transport import MockRequest, MockTransport

    clock = SystemClock()
    blocks = [*BLOCKS[:chunks], BLOCKS[-1]]

    async def answer(_: MockRequest) -> MockStream:
        return MockStream(blocks, clock)

    cfg = {
        "health": {"enabled": False, "scrape_metrics": False},
        "analysis": {"analyzer": "heuristic"},
        "models": {"m": {"replicas": [{"url": "http://127.0.0.1:9"}]}},
    }
    router = Router(parse_config(cfg), clock=clock, transport=MockTransport(answer, clock))
    router.telemetry.configure(access_log_enabled=False, log_prompts=False)
    app = App(router)
    body = orjson.dumps(
        {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi " * 40}]}
    )
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"host", b"x"), (b"content-type", b"application/json")],
        "http_version": "1.1",
        "client": ("127.0.0.1", 1),
    }
    one = common.asgi_staying_client(app, scope, body)
    took = await common.cpu_us_per_call(one, n, warm=200)
    await router.close()
    return took


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", type=int, default=400, help="whole streams per round")
    ap.add_argument("--left", type=int, default=20_000, help="streams left early per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--app", type=int, default=300, help="whole-app requests per round (0: off)")
    args = ap.parse_args(argv)
    print(f"machine: {common.machine_line()}")
    config = parse_config(
        {
            "health": {"enabled": False, "scrape_metrics": False},
            "models": {"m": {"replicas": [{"url": "http://127.0.0.1:9", "id": "m-0"}]}},
        }
    )
    replica = Fleet(config).replicas["m-0"]
    clock = SystemClock()
    whole, left = [], []
    for _ in range(args.rounds):
        whole.append(asyncio.run(_whole(replica, clock, args.streams)))
        left.append(asyncio.run(_left(replica, clock, args.left)))
    print(
        "per chunk, stream read to its end: "
        + ", ".join(f"{x:.3f}" for x in whole)
        + f" µs (median {statistics.median(whole):.3f})"
    )
    print(
        "per stream the client left after 3 chunks: "
        + ", ".join(f"{x:.2f}" for x in left)
        + f" µs (median {statistics.median(left):.2f})"
    )
    if args.app:
        per_chunk = []
        for _ in range(args.rounds):
            long = asyncio.run(_app_per_request(256, args.app))
            short = asyncio.run(_app_per_request(16, args.app))
            per_chunk.append((long - short) / 240)
        print(
            "whole app, per relayed chunk: "
            + ", ".join(f"{x:.2f}" for x in per_chunk)
            + f" µs (median {statistics.median(per_chunk):.2f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

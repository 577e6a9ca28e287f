"""What holding per-key limits across instances costs a request (issue 19): the limiter's
admit + settle against the memory store vs the Redis-shared one, in one event loop, one
request per loop tick (so the shared store sends its batched PUBLISH every time: its worst
case), CPU time per request. Needs ``redis-server`` on PATH (started on a free port here).

    PYTHONPATH=src python benchmarks/shared_limits_cost.py --requests 20000 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

from zeta_router.config import parse_config
from zeta_router.fleet.backends import build_shared
from zeta_router.fleet.redis_limits import RedisLimits
from zeta_router.fleet.state import Fleet
from zeta_router.routing.feedback import Feedback
from zeta_router.routing.limits import KeyLimits, Limiter, LimitStore, MemoryStore

#: Far from its limits: the shared store batches its messages.
LIMITS = KeyLimits(rpm=10**9, tpm=10**12, max_parallel=10**6)
#: Past half of one (a request in flight of max_parallel 1): a message every tick.
TIGHT = KeyLimits(rpm=10**9, tpm=10**12, max_parallel=1)


async def per_request_us(store: LimitStore, n: int, gap_s: float, limits: KeyLimits) -> float:
    lim = Limiter(store, time.monotonic)
    start = time.process_time()
    for _ in range(n):
        ticket = await lim.admit("bench", limits, 300)
        lim.settle(ticket, 120)
        await asyncio.sleep(gap_s)  # the next request comes in a later tick
    return (time.process_time() - start) / n * 1e6


def main(args: argparse.Namespace) -> None:
    exe = shutil.which("redis-server")
    assert exe, "redis-server is not installed"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [exe, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.3)
            mem, red = asyncio.run(measure(args, port))
        finally:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
    print(f"CPU µs per request (admit, settle, the loop until the next), {args.rounds} rounds:")
    names = ("back to back", "one per 12 ms", "back to back, near a limit")
    for name, m, r in zip(names, mem, red, strict=True):
        print(f" {name}:")
        print(f"  memory store: median {statistics.median(m):.2f}  {[round(x, 2) for x in m]}")
        print(f"  redis-shared: median {statistics.median(r):.2f}  {[round(x, 2) for x in r]}")
        print(f"  difference:   {statistics.median(r) - statistics.median(m):+.2f} µs")


async def measure(
    args: argparse.Namespace, port: int
) -> tuple[list[list[float]], list[list[float]]]:
    config = parse_config(
        {
            "models": {"m": {"replicas": [{"url": "http://127.0.0.1:9/v1"}]}},
            "state": {"backend": "redis", "url": f"redis://127.0.0.1:{port}/0"},
        }
    )
    shared = build_shared(config, time.monotonic, lambda model: None)
    channel = shared.channel("limits")
    assert channel is not None
    redis_store = RedisLimits(channel, time.monotonic, 0.25, 5.0)
    await shared.start(Fleet(config), Feedback(config.feedback, time.monotonic))
    assert channel.available, "not connected"
    redis_store.start()
    memory_store = MemoryStore()
    mem, red = [], []
    # Back to back (busy: batched), then one request per 12 ms (quiet: one PUBLISH each),
    # then back to back near a limit (one PUBLISH per request).
    scenarios = ((args.requests, 0.0, LIMITS), (args.requests // 40, 0.012, LIMITS))
    for n, gap, limits in (*scenarios, (args.requests, 0.0, TIGHT)):
        m, r = [], []
        for _ in range(args.rounds):  # interleaved
            m.append(await per_request_us(memory_store, n, gap, limits))
            r.append(await per_request_us(redis_store, n, gap, limits))
        mem.append(m)
        red.append(r)
    await redis_store.close()
    await shared.close()
    return mem, red


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--requests", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=5)
    main(p.parse_args())
